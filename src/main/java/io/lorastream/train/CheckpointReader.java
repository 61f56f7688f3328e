package io.lorastream.train;

import io.lorastream.avro.AdapterCheckpoint;
import io.lorastream.avro.KeptVersion;
import io.lorastream.contract.AvroCodec;
import io.lorastream.kafka.KafkaSettings;
import io.lorastream.kafka.Topics;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * Reads the committed checkpoints topic to its end: the newest checkpoint of every tenant and the
 * weights of every kept published version ({@link Topics#keptVersionKey}); a tombstone removes either.
 */
final class CheckpointReader {
  private CheckpointReader() {}

  static CommittedCheckpoints readAll(KafkaSettings kafka, String topic, Duration timeout) {
    Map<String, Object> props = kafka.consumer("lorastream-checkpoint-reader-" + UUID.randomUUID());
    Map<String, AdapterCheckpoint> latest = new HashMap<>();
    Map<String, KeptVersion> versions = new HashMap<>();
    try (KafkaConsumer<String, byte[]> consumer =
        new KafkaConsumer<>(props, new StringDeserializer(), new ByteArrayDeserializer())) {
      List<TopicPartition> partitions = consumer.partitionsFor(topic, timeout).stream()
          .map(p -> new TopicPartition(topic, p.partition())).toList();
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      // read_committed: the end offsets are the last stable offsets, so open transactions are not waited for.
      Map<TopicPartition, Long> end = consumer.endOffsets(partitions, timeout);
      long deadline = System.nanoTime() + timeout.toNanos();
      while (!caughtUp(consumer, end)) {
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("could not read checkpoints topic " + topic + " to its end within " + timeout);
        }
        for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(200))) {
          if (Topics.isKeptVersionKey(record.key())) {
            if (record.value() == null) {
              versions.remove(record.key());
            } else {
              versions.put(record.key(), AvroCodec.KEPT_VERSION.decode(record.value()));
            }
          } else if (record.value() == null) {
            latest.remove(record.key());
          } else {
            AdapterCheckpoint checkpoint = AvroCodec.ADAPTER_CHECKPOINT.decode(record.value());
            latest.put(checkpoint.getTenant(), checkpoint);
          }
        }
      }
    }
    return new CommittedCheckpoints(latest, versions);
  }

  private static boolean caughtUp(KafkaConsumer<?, ?> consumer, Map<TopicPartition, Long> end) {
    for (Map.Entry<TopicPartition, Long> e : end.entrySet()) {
      if (consumer.position(e.getKey()) < e.getValue()) {
        return false;
      }
    }
    return true;
  }
}
