package io.lorastream.cli;

import io.lorastream.kafka.KafkaSettings;
import io.lorastream.kafka.Topics;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Option;

/** Kafka connection options shared by every command that talks to a broker. */
final class KafkaOptions {
  @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT[,...]",
      defaultValue = "localhost:9092",
      description = "Kafka bootstrap servers (env LORASTREAM_BOOTSTRAP_SERVERS; default: ${DEFAULT-VALUE}).")
  String bootstrapServers;

  @Option(names = "--topic-prefix", paramLabel = "PREFIX",
      defaultValue = Topics.DEFAULT_PREFIX,
      description = "Prefix of every topic name (default: ${DEFAULT-VALUE}).")
  String topicPrefix;

  @Option(names = "--kafka-property", paramLabel = "KEY=VALUE",
      description = "A client property passed to every Kafka client, e.g. security.protocol=SASL_SSL (repeatable).")
  Map<String, String> clientProperties = new LinkedHashMap<>();

  KafkaSettings settings() {
    return new KafkaSettings(bootstrapServers, clientProperties);
  }

  Topics topics() {
    return new Topics(topicPrefix);
  }
}
