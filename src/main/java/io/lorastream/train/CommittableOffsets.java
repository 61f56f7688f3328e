package io.lorastream.train;

import java.util.HashMap;
import java.util.Map;
import java.util.OptionalLong;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;

/**
 * How far the trainer may commit its consumed offsets: per assigned partition, up to the oldest
 * example still buffered (a crash re-reads what was buffered), or the consumer's position when
 * nothing is.
 */
final class CommittableOffsets {
  private CommittableOffsets() {}

  /** The committable offset of every partition assigned to {@code consumer}. */
  static Map<TopicPartition, OffsetAndMetadata> of(Consumer<?, ?> consumer, MicroBatcher batcher) {
    Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
    for (TopicPartition partition : consumer.assignment()) {
      offsets.put(partition, new OffsetAndMetadata(of(consumer, batcher, partition)));
    }
    return offsets;
  }

  private static long of(Consumer<?, ?> consumer, MicroBatcher batcher, TopicPartition partition) {
    OptionalLong oldest = batcher.oldestOffset(partition);
    return oldest.isPresent() ? oldest.getAsLong() : consumer.position(partition);
  }

  /**
   * The consumer lag in examples: per assigned partition, the end offset (the last stable offset:
   * the input is read read_committed) minus the committable offset, so examples read and buffered
   * but not yet trained count too. Uses only what the consumer already knows (no request to the
   * broker); partitions whose end it has not learnt yet are left out. Empty when the consumer
   * cannot tell.
   */
  static OptionalLong lag(Consumer<?, ?> consumer, MicroBatcher batcher) {
    long records = 0;
    try {
      for (TopicPartition partition : consumer.assignment()) {
        OptionalLong lag = consumer.currentLag(partition);
        if (lag.isPresent()) {
          records += consumer.position(partition) + lag.getAsLong() - of(consumer, batcher, partition);
        }
      }
    } catch (KafkaException e) {
      return OptionalLong.empty();
    }
    return OptionalLong.of(records);
  }
}
