package io.lorastream.cli;

import io.lorastream.kafka.KafkaSettings;
import io.lorastream.kafka.Topics;
import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import picocli.CommandLine.Option;

/**
 * Kafka connection options shared by every command that talks to a broker. Client settings (TLS,
 * SASL, timeouts) pass through to every producer, consumer and admin client: from a client
 * properties file ({@code --kafka-config}, settable by environment like any option) and from
 * {@code --kafka-property} flags, which win over the file.
 */
final class KafkaOptions {
  @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT[,...]", defaultValue = "localhost:9092",
      description = "Kafka bootstrap servers (default: ${DEFAULT-VALUE}).")
  String bootstrapServers;

  @Option(names = "--topic-prefix", paramLabel = "PREFIX", defaultValue = Topics.DEFAULT_PREFIX,
      description = "Prefix of every topic name (default: ${DEFAULT-VALUE}).")
  String topicPrefix;

  @Option(names = "--kafka-config", paramLabel = "FILE",
      description = "Kafka client properties file (security.protocol, ssl.*, sasl.*, ...) passed to every Kafka "
          + "client; bootstrap servers come from --bootstrap-servers.")
  Path kafkaConfig;

  @Option(names = "--kafka-property", paramLabel = "KEY=VALUE",
      description = "A client property passed to every Kafka client, e.g. security.protocol=SASL_SSL (repeatable; "
          + "wins over --kafka-config).")
  Map<String, String> clientProperties = new LinkedHashMap<>();

  KafkaSettings settings() {
    Map<String, String> properties = new LinkedHashMap<>();
    if (kafkaConfig != null) {
      properties.putAll(load(kafkaConfig));
    }
    properties.putAll(clientProperties);
    return new KafkaSettings(bootstrapServers, properties);
  }

  Topics topics() {
    return new Topics(topicPrefix);
  }

  private static Map<String, String> load(Path file) {
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException("Kafka client properties file " + file + " does not exist (--kafka-config)");
    }
    Properties properties = new Properties();
    try (Reader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      properties.load(in);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read Kafka client properties " + file, e);
    }
    if (properties.containsKey("bootstrap.servers")) {
      throw new IllegalArgumentException(file + " sets bootstrap.servers: give the servers with --bootstrap-servers "
          + "or LORASTREAM_BOOTSTRAP_SERVERS instead, so there is one place that decides them");
    }
    Map<String, String> map = new LinkedHashMap<>();
    for (String name : properties.stringPropertyNames()) {
      map.put(name, properties.getProperty(name));
    }
    return map;
  }
}
