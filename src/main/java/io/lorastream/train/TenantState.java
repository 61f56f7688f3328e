package io.lorastream.train;

import io.lorastream.avro.TrainingExample;
import io.lorastream.model.LoraAdapter;
import io.lorastream.model.LoraTrainer;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.TopicPartition;

/**
 * One tenant's training state in this trainer: its adapter, optimizer, and how far it has trained
 * in each input partition. All of that is written to the tenant's checkpoint on every commit; the
 * recent holdout examples are not (they are for evaluation only and refill from the stream).
 */
final class TenantState implements AutoCloseable {
  /** How many of the tenant's newest holdout examples are kept for evaluation. */
  static final int HOLDOUT_KEPT = 64;

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
  /** The newest holdout examples, oldest first, at most {@link #HOLDOUT_KEPT}, one per id. */
  private final Deque<TrainingExample> holdout = new ArrayDeque<>();

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

  /** Keeps a holdout example (never trained on); a re-read id replaces its older copy. */
  void keepHoldout(TrainingExample example) {
    holdout.removeIf(e -> e.getId().equals(example.getId()));
    holdout.addLast(example);
    while (holdout.size() > HOLDOUT_KEPT) {
      holdout.removeFirst();
    }
  }

  /** The kept holdout examples, oldest first. */
  List<TrainingExample> holdout() {
    return List.copyOf(holdout);
  }

  @Override
  public void close() {
    trainer.close();
    adapter.close();
  }
}
