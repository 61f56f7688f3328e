package io.lorastream.kafka;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.serialization.Serde;

/**
 * One topic, declared once with its key and value serdes, partition count and topic configs.
 * Call sites read {@code Consumed.with(topic.keySerde(), topic.valueSerde())}.
 */
public record Topic<K, V>(
    String name, Serde<K> keySerde, Serde<V> valueSerde, int partitions, Map<String, String> configs) {

  public Topic {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(keySerde, "keySerde");
    Objects.requireNonNull(valueSerde, "valueSerde");
    if (!name.matches("[a-zA-Z0-9._-]{1,249}")) {
      throw new IllegalArgumentException("invalid Kafka topic name \"" + name + "\"");
    }
    if (partitions < 1) {
      throw new IllegalArgumentException("topic " + name + " needs at least 1 partition");
    }
    configs = Map.copyOf(configs);
  }

  /**
   * The topic to create with {@code replicationFactor} replicas. With 3 or more replicas a write
   * must reach 2 of them ({@code min.insync.replicas=2}) unless the configs say otherwise.
   */
  public NewTopic newTopic(short replicationFactor) {
    if (replicationFactor < 1) {
      throw new IllegalArgumentException("replication factor must be at least 1");
    }
    Map<String, String> all = new LinkedHashMap<>(configs);
    if (replicationFactor >= 3) {
      all.putIfAbsent("min.insync.replicas", "2");
    }
    return new NewTopic(name, partitions, replicationFactor).configs(all);
  }

  @Override
  public String toString() {
    return name;
  }
}
