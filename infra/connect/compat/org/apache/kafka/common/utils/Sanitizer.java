/*
 * Debezium 3.6.1 is built against Kafka 4.3 and calls this class to name its JMX metrics;
 * Kafka 4.4 moved it to org.apache.kafka.common.utils.internals. bin/connect-fetch
 * compiles this one class onto the worker's classpath so the connector finds it where it
 * looks. Drop it when Debezium is built against Kafka 4.4.
 */
package org.apache.kafka.common.utils;

public final class Sanitizer {
    private Sanitizer() {
    }

    public static String sanitize(String name) {
        return org.apache.kafka.common.utils.internals.Sanitizer.sanitize(name);
    }

    public static String desanitize(String name) {
        return org.apache.kafka.common.utils.internals.Sanitizer.desanitize(name);
    }

    public static String jmxSanitize(String name) {
        return org.apache.kafka.common.utils.internals.Sanitizer.jmxSanitize(name);
    }
}
