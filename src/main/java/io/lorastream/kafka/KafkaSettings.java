package io.lorastream.kafka;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;

/**
 * How lorastream's clients reach Kafka: bootstrap servers plus client properties copied into
 * every producer, consumer and admin client (security.protocol, sasl.*, ssl.* and the like).
 * Serializers are not set here: clients take them from {@link Topic#keySerde()} and
 * {@link Topic#valueSerde()}.
 */
public final class KafkaSettings {
  /** Largest produce request: one 50 MiB adapter value with its key and headers fits. */
  public static final int MAX_REQUEST_BYTES = 52_428_800;

  /** Producer buffer: room for two large values in flight. */
  public static final long BUFFER_MEMORY_BYTES = 134_217_728L;

  /** Fetch sizes: a 50 MiB value plus batch overhead in one fetch. */
  public static final int MAX_FETCH_BYTES = 64 * 1024 * 1024;

  private final String bootstrapServers;
  private final Map<String, String> clientProperties;

  public KafkaSettings(String bootstrapServers, Map<String, String> clientProperties) {
    Objects.requireNonNull(bootstrapServers, "bootstrapServers");
    if (bootstrapServers.isBlank()) {
      throw new IllegalArgumentException("bootstrap servers are empty");
    }
    this.bootstrapServers = bootstrapServers.strip();
    this.clientProperties = Map.copyOf(clientProperties);
  }

  public static KafkaSettings of(String bootstrapServers) {
    return new KafkaSettings(bootstrapServers, Map.of());
  }

  /**
   * Settings from client properties (e.g. a file passed with {@code --kafka-config}); the
   * {@code bootstrap.servers} entry is taken from there when {@code bootstrapServers} is null.
   */
  public static KafkaSettings fromProperties(String bootstrapServers, Properties properties) {
    Map<String, String> props = new LinkedHashMap<>();
    for (String name : properties.stringPropertyNames()) {
      props.put(name, properties.getProperty(name));
    }
    String servers = props.remove(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG);
    return new KafkaSettings(bootstrapServers != null ? bootstrapServers : servers, props);
  }

  public String bootstrapServers() {
    return bootstrapServers;
  }

  /** The pass-through client properties, as given. */
  public Map<String, String> clientProperties() {
    return clientProperties;
  }

  /** Idempotent producer that waits for all in-sync replicas and can send 50 MiB values. */
  public Map<String, Object> producer() {
    Map<String, Object> config = common();
    config.put(ProducerConfig.ACKS_CONFIG, "all");
    config.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
    config.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, MAX_REQUEST_BYTES);
    config.put(ProducerConfig.BUFFER_MEMORY_CONFIG, BUFFER_MEMORY_BYTES);
    // lz4: cheap on CPU; safetensors floats compress little, Avro text fields a lot.
    config.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
    config.put(ProducerConfig.LINGER_MS_CONFIG, 5);
    return withOverrides(config);
  }

  /** {@link #producer()} with a transactional id (one per producing instance and role). */
  public Map<String, Object> transactionalProducer(String transactionalId) {
    if (transactionalId == null || transactionalId.isBlank()) {
      throw new IllegalArgumentException("transactional id is empty");
    }
    Map<String, Object> config = producer();
    config.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
    return config;
  }

  /**
   * Consumer that sees only committed records, commits offsets itself, starts at the earliest
   * offset when its group has none, and can fetch 50 MiB values.
   */
  public Map<String, Object> consumer(String groupId) {
    if (groupId == null || groupId.isBlank()) {
      throw new IllegalArgumentException("consumer group id is empty");
    }
    Map<String, Object> config = common();
    config.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
    config.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    config.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    config.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, MAX_FETCH_BYTES);
    config.put(ConsumerConfig.FETCH_MAX_BYTES_CONFIG, MAX_FETCH_BYTES);
    return withOverrides(config);
  }

  public Map<String, Object> admin() {
    Map<String, Object> config = common();
    config.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 30_000);
    config.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 60_000);
    return withOverrides(config);
  }

  private Map<String, Object> common() {
    Map<String, Object> config = new HashMap<>();
    config.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
    return config;
  }

  /** Given client properties win over lorastream's defaults. */
  private Map<String, Object> withOverrides(Map<String, Object> config) {
    config.putAll(clientProperties);
    config.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
    return config;
  }

  @Override
  public String toString() {
    // Never print property values: they may hold passwords.
    return "KafkaSettings[" + bootstrapServers + ", properties " + clientProperties.keySet() + "]";
  }
}
