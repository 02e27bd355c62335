"""Guided labs: each runs against the running `make run` system, says step by step what it
does and what to watch, reads what happened from the system, and ends with a verdict.

    python manage.py lab                 # the labs
    python manage.py lab catalog-down    # run one: exit 0 on PASS, 1 on FAIL
"""
