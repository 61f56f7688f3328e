package io.lorastream.train;

import io.lorastream.model.LoraAdapter;
import io.lorastream.model.LoraTrainer;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.common.TopicPartition;

/**
 * One tenant's training state in this trainer: its adapter, optimizer, and how far it has trained
 * in each input partition. Everything here is written to the tenant's checkpoint on every commit.
 */
final class TenantState implements AutoCloseable {
  final String tenant;
  final LoraAdapter adapter;
  final LoraTrainer trainer;
  /** Per input partition: the offset of the next example not yet trained on. */
  final Map<TopicPartition, Long> trainedThrough;
  long examplesSeen;
  long publishedVersion;
  /** Event time (epoch ms) of the newest example trained on, or null before the first. */
  Long newestEventTime;
  float lastLoss = Float.NaN;

  TenantState(String tenant, LoraAdapter adapter, LoraTrainer trainer,
      Map<TopicPartition, Long> trainedThrough, long examplesSeen, long publishedVersion, Long newestEventTime) {
    this.tenant = tenant;
    this.adapter = adapter;
    this.trainer = trainer;
    this.trainedThrough = new HashMap<>(trainedThrough);
    this.examplesSeen = examplesSeen;
    this.publishedVersion = publishedVersion;
    this.newestEventTime = newestEventTime;
  }

  /** True when this example was already trained on (it is being read again after a restart). */
  boolean alreadyTrained(TopicPartition partition, long offset) {
    Long next = trainedThrough.get(partition);
    return next != null && offset < next;
  }

  void markTrained(PendingExample example) {
    trainedThrough.merge(example.partition(), example.offset() + 1, Math::max);
    examplesSeen++;
    long eventTime = example.example().getEventTime().toEpochMilli();
    newestEventTime = newestEventTime == null ? eventTime : Math.max(newestEventTime, eventTime);
  }

  @Override
  public void close() {
    trainer.close();
    adapter.close();
  }
}
