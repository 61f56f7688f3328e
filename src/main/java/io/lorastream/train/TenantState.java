package io.lorastream.train;

import io.lorastream.avro.AdapterCheckpoint;
import io.lorastream.avro.HoldoutExample;
import io.lorastream.avro.PublishedVersion;
import io.lorastream.avro.TrainingExample;
import io.lorastream.model.LoraAdapter;
import io.lorastream.model.LoraTrainer;
import io.lorastream.model.TrainingPair;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.apache.kafka.common.TopicPartition;

/**
 * One tenant's training state in this trainer: its adapter, optimizer, how far it has trained in
 * each input partition, its recent holdout examples and its recently published versions. All of
 * that is written to the tenant's checkpoint on every commit that touches the tenant, except the
 * published versions' weights: those are written once each, as their own record.
 */
final class TenantState implements AutoCloseable {
  /** How many of the tenant's newest holdout examples are kept for evaluation. */
  static final int HOLDOUT_KEPT = 64;

  final String tenant;
  final LoraAdapter adapter;
  final LoraTrainer trainer;
  /** Per input partition: the offset of the next record not yet trained on (or otherwise handled). */
  final Map<TopicPartition, Long> trainedThrough;
  long examplesSeen;
  long publishedVersion;
  /** Event time (epoch ms) of the newest example trained on, or null before the first. */
  Long newestEventTime;
  float lastLoss = Float.NaN;
  /** Steps since the newest publish (the publish cadence counts them). */
  int stepsSincePublish;
  /** When the newest version was published (epoch ms), or null before the first. */
  Long publishedAt;
  /**
   * The checkpoint written last for this tenant (in a committed transaction or in the open one):
   * what a step with a non-finite loss returns to. Null when none was written yet.
   */
  AdapterCheckpoint lastCheckpoint;
  /** The newest holdout examples, oldest first, at most {@link #HOLDOUT_KEPT}, one per id. */
  private final Deque<HoldoutExample> holdout = new ArrayDeque<>();
  private final Deque<PublishedVersion> recentVersions = new ArrayDeque<>();
  /** Kept versions whose weights are not yet written as their own record on the checkpoints topic. */
  private final Set<Long> unwrittenVersions = new LinkedHashSet<>();
  /** Versions dropped from {@link #recentVersions} whose weights record is not yet tombstoned. */
  private final Set<Long> droppedVersions = new LinkedHashSet<>();
  /** Per holdout example, its loss under the base model and under each kept version. */
  final HoldoutLosses holdoutLosses = new HoldoutLosses();

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

  /** True when this record was already trained on or handled (it is being read again after a restart). */
  boolean alreadyTrained(TopicPartition partition, long offset) {
    Long next = trainedThrough.get(partition);
    return next != null && offset < next;
  }

  void markTrained(PendingExample example) {
    markHandled(example.partition(), example.offset());
    examplesSeen++;
    long eventTime = example.example().getEventTime().toEpochMilli();
    newestEventTime = newestEventTime == null ? eventTime : Math.max(newestEventTime, eventTime);
  }

  /** A record of this tenant that is done with without training on it (a poison example, a control). */
  void markHandled(TopicPartition partition, long offset) {
    trainedThrough.merge(partition, offset + 1, Math::max);
  }

  /** Keeps a holdout example (never trained on); a re-read id replaces its older copy. */
  void keepHoldout(TrainingExample example) {
    keepHoldout(new HoldoutExample(example.getId(), example.getPrompt(), example.getCompletion(), example.getWeight()));
  }

  void keepHoldout(HoldoutExample example) {
    holdout.removeIf(e -> e.getId().equals(example.getId()));
    holdoutLosses.forgetExample(example.getId());
    holdout.addLast(example);
    while (holdout.size() > HOLDOUT_KEPT) {
      holdoutLosses.forgetExample(holdout.removeFirst().getId());
    }
  }

  /** The kept holdout examples, oldest first. */
  List<HoldoutExample> holdout() {
    return List.copyOf(holdout);
  }

  List<TrainingPair> holdoutPairs() {
    return holdout.stream().map(h -> new TrainingPair(h.getPrompt(), h.getCompletion(), h.getWeight())).toList();
  }

  /**
   * Remembers a version just published (or one whose weights are not on the checkpoints topic as
   * their own record yet); only the newest {@code kept} stay. Its weights record, and a tombstone
   * for each version dropped, are due with the tenant's next checkpoint ({@link #unwrittenVersions},
   * {@link #droppedVersions}).
   */
  void rememberVersion(PublishedVersion version, int kept) {
    keepVersion(version, kept);
    unwrittenVersions.add(version.getVersion());
  }

  /** Remembers a version restored from its own weights record: nothing is due for it. */
  void restoreVersion(PublishedVersion version) {
    keepVersion(version, Integer.MAX_VALUE);
  }

  private void keepVersion(PublishedVersion version, int kept) {
    recentVersions.addLast(version);
    while (recentVersions.size() > kept) {
      long dropped = recentVersions.removeFirst().getVersion();
      holdoutLosses.forgetModel(dropped);
      unwrittenVersions.remove(dropped);
      droppedVersions.add(dropped);
    }
  }

  /** Kept versions whose weights record is due with the next checkpoint, oldest first. */
  List<PublishedVersion> unwrittenVersions() {
    return recentVersions.stream().filter(v -> unwrittenVersions.contains(v.getVersion())).toList();
  }

  /** Versions no longer kept whose weights record is to be removed (tombstoned) with the next checkpoint. */
  List<Long> droppedVersions() {
    return List.copyOf(droppedVersions);
  }

  /** The records of {@link #unwrittenVersions} and {@link #droppedVersions} are in the open transaction. */
  void versionRecordsWritten() {
    unwrittenVersions.clear();
    droppedVersions.clear();
  }

  /** The recently published versions, oldest first. */
  List<PublishedVersion> recentVersions() {
    return List.copyOf(recentVersions);
  }

  Optional<PublishedVersion> recentVersion(long version) {
    return recentVersions.stream().filter(v -> v.getVersion() == version).findFirst();
  }

  Optional<PublishedVersion> newestVersion() {
    return Optional.ofNullable(recentVersions.peekLast());
  }

  /** A published version's loss on the current holdout set, if known for every example of it. */
  Optional<Float> versionHoldoutLoss(long version) {
    return holdoutLosses.mean(version, holdout());
  }

  /** The base model's loss on the current holdout set, if known for every example of it. */
  Optional<Float> baseHoldoutLoss() {
    return holdoutLosses.mean(HoldoutLosses.BASE, holdout());
  }

  /** Carries over what lives beside the weights: holdout set and published versions. */
  void copyEvaluationStateFrom(TenantState other) {
    holdout.clear();
    holdout.addAll(other.holdout);
    holdoutLosses.copyFrom(other.holdoutLosses);
    recentVersions.clear();
    recentVersions.addAll(other.recentVersions);
    unwrittenVersions.clear();
    unwrittenVersions.addAll(other.unwrittenVersions);
    droppedVersions.clear();
    droppedVersions.addAll(other.droppedVersions);
  }

  @Override
  public void close() {
    trainer.close();
    adapter.close();
  }
}
