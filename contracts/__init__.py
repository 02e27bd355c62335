"""The messages the two services exchange over Kafka, and the rules for changing them.

No Django and no Kafka client here: the order service and the catalog both import this
package, and it imports neither of them (``.importlinter``).

* ``events``: the message types, as msgspec ``Struct``s, with their checks.
* ``topics``: each topic, its messages, key, sender, receiver and compatibility rule.
* ``registry``: the JSON Schemas in ``schemas/``, one file per message type and version.
* ``compatibility``: the check of every version against the earlier ones, by the rule.
* ``asyncapi``: the AsyncAPI 3.0 document of the three topics, built from the above.
"""
