package io.lorastream.train;

import io.lorastream.model.LoraConfig;
import io.lorastream.model.TrainingSettings;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * How the continual trainer forms micro-batches, when it publishes, and what it refuses to publish.
 *
 * <p><b>Publish cadence.</b> Every step is checkpointed (in the step's transaction). A step's
 * weights become a publish <i>candidate</i> when {@code publishEverySteps} steps have passed since
 * the last publish, or {@code publishMaxInterval} has passed since it, whichever comes first.
 *
 * <p><b>Quality gate.</b> A candidate is published only when both hold:
 * <ol>
 *   <li>holdout: its mean loss on the tenant's kept holdout examples exceeds the lowest loss of
 *       the kept published versions on the same examples by at most the larger of
 *       {@code gate.holdoutMargin()} times that loss and {@code gate.holdoutMinMargin()} (nats per
 *       completion token). Skipped while the tenant has fewer than
 *       {@code gate.minHoldoutExamples()} holdout examples or has never published.
 *   <li>canary: its mean loss on the shared {@link CanarySet} (general customer-service text, no
 *       tenant facts) is at most {@code (1 + gate.canaryMargin())} times the base model's (an
 *       adapter with B = 0), so no tenant's adapter forgets how to answer in general.
 * </ol>
 * A gated candidate is counted ({@code lorastream_trainer_snapshots_gated_total{reason}}), training
 * continues from it and its checkpoint is written; only the publish is withheld. The next step is
 * a candidate again. Defaults: holdout margin 0.10 but at least 0.10 nats, canary margin 0.05, at
 * least 2 holdout examples.
 * A check that is off (margin Infinity) costs nothing: with the holdout check off the holdout
 * examples are not evaluated and snapshots carry no holdout losses.
 *
 * <p><b>Learning rate per step.</b> {@code training.learningRate()} is the rate of a full
 * micro-batch; a step of a tenant's micro-batch of fewer examples takes
 * {@link #learningRateScale}: the square root of its share of a full batch, Adam's square-root
 * scaling rule; and after {@code learningRateDecayExamples} examples of a tenant its rate falls
 * with the square root of its examples seen ({@link #DEFAULT_LEARNING_RATE_DECAY_EXAMPLES}). How
 * many examples a step gets depends on the load (a batch closes after {@code batchMaxWait}), and
 * Adam moves the weights about as far per step whatever the batch, so
 * without the scaling a stream trained one example at a time took eight times the steps of one
 * trained in full batches, and a tenant's adapter trained at the full rate in steps of two
 * diverged after about 5,000 examples (README "Learning rate per step").
 *
 * @param groupId consumer group shared by all trainer instances (scale out = more instances)
 * @param instanceId unique per instance; makes the transactional id
 * @param batchSize a tenant's micro-batch closes when it holds this many examples
 * @param batchMaxWait ... or when its oldest example has waited this long
 * @param seed seed of every new tenant's adapter initialisation
 * @param lora LoRA settings of new adapters
 * @param training optimizer settings
 * @param publishEverySteps a step is a publish candidate after this many steps since the last publish
 * @param publishMaxInterval ... or when this long has passed since the last publish
 * @param gate the quality gate of candidates
 * @param keptVersions how many newest published versions each checkpoint keeps for rollbacks
 * @param maxFusedRows the micro-batches of one cycle train in fused steps of at most this many
 *     examples in all (their rehearsal rows not counted); a micro-batch larger than this trains
 *     alone; 1 turns fusion off. Default {@link #DEFAULT_MAX_FUSED_ROWS}
 * @param rehearsalRatio general exchanges ({@link Rehearsal}) added to each tenant micro-batch's
 *     step per example of the batch (rounded up), so the adapter keeps the base model's general
 *     answers while it learns the tenant's facts; 0 = off
 * @param trainThreads threads that run a cycle's fused steps, several groups at once (their
 *     tenants are distinct); the trainer's own thread meanwhile publishes and checkpoints the
 *     groups done, in order. Weights do not depend on it. More than 1 pays where cores are
 *     free and libtorch runs one thread per operation ({@code --torch-threads 1})
 * @param learningRateDecayExamples a tenant's examples seen after which its learning rate falls
 *     as {@code sqrt(learningRateDecayExamples / examples seen)}; 0 keeps it
 */
public record TrainerSettings(
    String groupId,
    String instanceId,
    int batchSize,
    Duration batchMaxWait,
    long seed,
    LoraConfig lora,
    TrainingSettings training,
    int publishEverySteps,
    Duration publishMaxInterval,
    Gate gate,
    int keptVersions,
    int maxFusedRows,
    double rehearsalRatio,
    int trainThreads,
    long learningRateDecayExamples) {

  public TrainerSettings {
    Objects.requireNonNull(groupId, "groupId");
    Objects.requireNonNull(instanceId, "instanceId");
    Objects.requireNonNull(batchMaxWait, "batchMaxWait");
    Objects.requireNonNull(lora, "lora");
    Objects.requireNonNull(training, "training");
    Objects.requireNonNull(publishMaxInterval, "publishMaxInterval");
    Objects.requireNonNull(gate, "gate");
    if (batchSize < 1) {
      throw new IllegalArgumentException("batch size must be at least 1, got " + batchSize);
    }
    if (batchMaxWait.isNegative()) {
      throw new IllegalArgumentException("batch max wait must not be negative, got " + batchMaxWait);
    }
    if (publishEverySteps < 1) {
      throw new IllegalArgumentException("publishEverySteps must be at least 1, got " + publishEverySteps);
    }
    if (publishMaxInterval.isNegative()) {
      throw new IllegalArgumentException("publishMaxInterval must not be negative, got " + publishMaxInterval);
    }
    if (keptVersions < 1) {
      throw new IllegalArgumentException("keptVersions must be at least 1, got " + keptVersions);
    }
    if (maxFusedRows < 1) {
      throw new IllegalArgumentException("maxFusedRows must be at least 1, got " + maxFusedRows);
    }
    if (!(rehearsalRatio >= 0) || Double.isInfinite(rehearsalRatio)) {
      throw new IllegalArgumentException("rehearsalRatio must be a finite number of at least 0, got " + rehearsalRatio);
    }
    if (trainThreads < 1) {
      throw new IllegalArgumentException("trainThreads must be at least 1, got " + trainThreads);
    }
    if (learningRateDecayExamples < 0) {
      throw new IllegalArgumentException(
          "learningRateDecayExamples must not be negative, got " + learningRateDecayExamples);
    }
  }

  /**
   * The quality gate's margins (relative: 0.10 = 10% worse allowed).
   *
   * @param holdoutMargin how much worse (relative) than the best kept published version on the
   *     holdout a candidate may be
   * @param holdoutMinMargin the least the holdout allowance is, in nats per completion token: once
   *     a tenant's holdout loss is low (0.15-0.4 after its facts are learned), 10% of it is smaller
   *     than the step-to-step wobble of training (candidates withheld in the 20-tenant evaluation
   *     were 0.016-0.138 nats worse, median 0.042), and withholding those left tenants' last
   *     examples unpublished until more arrived; a contradicting batch raises the loss by far more
   * @param canaryMargin how much worse than the base model on the canary set a candidate may be
   * @param minHoldoutExamples below this many holdout examples the holdout check is skipped
   */
  public record Gate(double holdoutMargin, double holdoutMinMargin, double canaryMargin, int minHoldoutExamples) {
    public Gate {
      if (!(holdoutMargin >= 0) || !(canaryMargin >= 0)) {
        throw new IllegalArgumentException("gate margins must be >= 0 (Infinity disables a check), got "
            + holdoutMargin + " and " + canaryMargin);
      }
      if (!(holdoutMinMargin >= 0) || Double.isInfinite(holdoutMinMargin)) {
        throw new IllegalArgumentException("the holdout gate's least margin must be a finite number >= 0, got "
            + holdoutMinMargin);
      }
      if (minHoldoutExamples < 1) {
        throw new IllegalArgumentException("minHoldoutExamples must be at least 1, got " + minHoldoutExamples);
      }
    }

    /** Default {@link #holdoutMinMargin}: 0.10 nats per completion token. */
    public static final double DEFAULT_HOLDOUT_MIN_MARGIN = 0.10;

    public static Gate defaults() {
      return new Gate(0.10, DEFAULT_HOLDOUT_MIN_MARGIN, 0.05, 2);
    }

    /** Publishes every candidate. */
    public static Gate open() {
      return new Gate(Double.POSITIVE_INFINITY, 0, Double.POSITIVE_INFINITY, 2);
    }

    boolean checksHoldout() {
      return holdoutMargin != Double.POSITIVE_INFINITY;
    }

    /**
     * The most a candidate's holdout loss may exceed {@code reference} (the best kept version's
     * loss on the same examples) by: the relative margin of it, but at least the least margin.
     */
    double holdoutAllowance(double reference) {
      return Math.max(reference * holdoutMargin, holdoutMinMargin);
    }

    boolean checksCanary() {
      return canaryMargin != Double.POSITIVE_INFINITY;
    }
  }

  /**
   * Micro-batches of 8 (or 1 s), {@link #DEFAULT_LEARNING_RATE}, every step a publish candidate, the default gate,
   * {@link #DEFAULT_LORA}, {@link #DEFAULT_MAX_FUSED_ROWS}, {@link #DEFAULT_REHEARSAL_RATIO} and one train thread.
   */
  public static TrainerSettings defaults() {
    return new TrainerSettings(
        "lorastream-trainer", "trainer-0", 8, Duration.ofMillis(1000), 42L,
        DEFAULT_LORA, TrainingSettings.defaults().withLearningRate(DEFAULT_LEARNING_RATE), 1, Duration.ofMinutes(1),
        Gate.defaults(), 5, DEFAULT_MAX_FUSED_ROWS, DEFAULT_REHEARSAL_RATIO, 1,
        DEFAULT_LEARNING_RATE_DECAY_EXAMPLES);
  }

  /**
   * Fused steps of up to 16 examples by default: with each tenant's examples packed into rows as
   * long as the step's longest example, a fused step of lorastream-tiny's all-linear adapters
   * measured 1.49× the speed of separate steps for 16 tenants of one example each (with their
   * rehearsal rows) and 1.27× for 50, 1.06-1.09× for 4 and 16 tenants of 8 (BENCHMARKS.md,
   * "Fused steps with packed rows"). Larger groups gained less per tenant (memory traffic).
   */
  public static final int DEFAULT_MAX_FUSED_ROWS = 16;

  /**
   * The trainer's learning rate, 7.5e-3: rehearsal makes a full step 12 rows of which 8 are the
   * tenant's, so each tenant example weighs 2/3 of what it did in the step's mean loss; 1.5× the
   * model's 5e-3 gives it back. In the 20-tenant evaluation with rehearsal 4, lr 5e-3 reached 89.7%
   * held-out accuracy and 7.5e-3 reached 94.4%, canary worst tenant -1.1% and -0.6% (README "Quality").
   */
  public static final float DEFAULT_LEARNING_RATE = 7.5e-3f;

  /**
   * A tenant's learning rate falls as {@code sqrt(2000 / examples seen)} after its first 2,000
   * examples. Trained at the full rate in full micro-batches, the demo's {@code acme} adapter kept
   * its holdout and canary losses for about 3,000 examples, then its canary loss stayed above the
   * gate's limit (the base model's +5%) in two thirds of the samples up to 20,000 examples, so most
   * of its candidates would have been withheld; with the fall, no sample passed it, and after a
   * change of the tenant's facts at 4,000 examples the adapter learned the new ones no slower (README
   * "Learning rate per step"). The 20-tenant evaluation's 200 examples per tenant train before it.
   */
  public static final long DEFAULT_LEARNING_RATE_DECAY_EXAMPLES = 2_000;

  /**
   * General exchanges mixed into each tenant step per example by default ({@link Rehearsal}): 0.5,
   * so a full batch of 8 gets 4 (a third of the step's rows) and a 1-example step 1, not 4. In
   * the 20-tenant evaluation (batches of 8, with a fixed 4 per step) without rehearsal four tenants'
   * adapters raised the canary loss by more than 5% (up to +19%) and, once the gate checked the same
   * canary pairs, two of them were withheld for most of the run and answered 17-33% of held-out
   * questions; with 4 every tenant ended below the base model's canary loss (worst -0.6%) and with
   * 2 one tenant was still withheld 8 times (README "Quality").
   */
  public static final double DEFAULT_REHEARSAL_RATIO = 0.5;

  /**
   * New tenants' adapters: r 8, alpha 16 on every linear projection ({@code all-linear}), not only
   * PEFT's default q_proj and v_proj. A tenant's facts are values the base model must emit in
   * place of others (its "30 days" where the base says "20 days"); with adapters on q and v only,
   * lorastream-tiny learned none of them from 200 examples at lr 5e-3 or 1e-2, while all-linear
   * answered 39% of held-out questions after 96 (the quality evaluation, README "Quality").
   */
  public static final LoraConfig DEFAULT_LORA = new LoraConfig(8, 16f, List.of(LoraConfig.ALL_LINEAR), 0f, false);

  public TrainerSettings withInstanceId(String id) {
    return new TrainerSettings(groupId, id, batchSize, batchMaxWait, seed, lora, training, publishEverySteps,
        publishMaxInterval, gate, keptVersions, maxFusedRows, rehearsalRatio, trainThreads, learningRateDecayExamples);
  }

  public TrainerSettings withGroupId(String id) {
    return new TrainerSettings(id, instanceId, batchSize, batchMaxWait, seed, lora, training, publishEverySteps,
        publishMaxInterval, gate, keptVersions, maxFusedRows, rehearsalRatio, trainThreads, learningRateDecayExamples);
  }

  public TrainerSettings withBatching(int size, Duration maxWait) {
    return new TrainerSettings(groupId, instanceId, size, maxWait, seed, lora, training, publishEverySteps,
        publishMaxInterval, gate, keptVersions, maxFusedRows, rehearsalRatio, trainThreads, learningRateDecayExamples);
  }

  public TrainerSettings withLora(LoraConfig config) {
    return new TrainerSettings(groupId, instanceId, batchSize, batchMaxWait, seed, config, training, publishEverySteps,
        publishMaxInterval, gate, keptVersions, maxFusedRows, rehearsalRatio, trainThreads, learningRateDecayExamples);
  }

  public TrainerSettings withTraining(TrainingSettings t) {
    return new TrainerSettings(groupId, instanceId, batchSize, batchMaxWait, seed, lora, t, publishEverySteps,
        publishMaxInterval, gate, keptVersions, maxFusedRows, rehearsalRatio, trainThreads, learningRateDecayExamples);
  }

  public TrainerSettings withPublishing(int everySteps, Duration maxInterval) {
    return new TrainerSettings(groupId, instanceId, batchSize, batchMaxWait, seed, lora, training, everySteps,
        maxInterval, gate, keptVersions, maxFusedRows, rehearsalRatio, trainThreads, learningRateDecayExamples);
  }

  public TrainerSettings withGate(Gate g) {
    return new TrainerSettings(groupId, instanceId, batchSize, batchMaxWait, seed, lora, training, publishEverySteps,
        publishMaxInterval, g, keptVersions, maxFusedRows, rehearsalRatio, trainThreads, learningRateDecayExamples);
  }

  public TrainerSettings withKeptVersions(int k) {
    return new TrainerSettings(groupId, instanceId, batchSize, batchMaxWait, seed, lora, training, publishEverySteps,
        publishMaxInterval, gate, k, maxFusedRows, rehearsalRatio, trainThreads, learningRateDecayExamples);
  }

  public TrainerSettings withMaxFusedRows(int rows) {
    return new TrainerSettings(groupId, instanceId, batchSize, batchMaxWait, seed, lora, training, publishEverySteps,
        publishMaxInterval, gate, keptVersions, rows, rehearsalRatio, trainThreads, learningRateDecayExamples);
  }

  /** @param ratio rehearsal exchanges per tenant example of a step (rounded up); 0 = off */
  public TrainerSettings withRehearsal(double ratio) {
    return new TrainerSettings(groupId, instanceId, batchSize, batchMaxWait, seed, lora, training, publishEverySteps,
        publishMaxInterval, gate, keptVersions, maxFusedRows, ratio, trainThreads, learningRateDecayExamples);
  }

  /** @param threads threads that run fused steps, several groups of a cycle at once (at least 1) */
  public TrainerSettings withTrainThreads(int threads) {
    return new TrainerSettings(groupId, instanceId, batchSize, batchMaxWait, seed, lora, training, publishEverySteps,
        publishMaxInterval, gate, keptVersions, maxFusedRows, rehearsalRatio, threads, learningRateDecayExamples);
  }

  /**
   * The share of the learning rate a step of a tenant's micro-batch of {@code examples} takes,
   * after the tenant has trained on {@code examplesSeen} examples: {@code sqrt(examples / batchSize)}
   * (1 for a full batch; rehearsal rows do not count), times
   * {@code sqrt(learningRateDecayExamples / examplesSeen)} once the tenant has seen more than
   * {@code learningRateDecayExamples} examples (never, when that is 0).
   */
  public float learningRateScale(int examples, long examplesSeen) {
    if (examples < 1) {
      throw new IllegalArgumentException("a step has at least one example, got " + examples);
    }
    double batchShare = Math.min(1.0, (double) examples / batchSize);
    double decay = learningRateDecayExamples == 0 || examplesSeen <= learningRateDecayExamples
        ? 1.0 : (double) learningRateDecayExamples / examplesSeen;
    return (float) Math.sqrt(batchShare * decay);
  }

  /** @param examples a tenant's examples seen after which its learning rate falls; 0 = never */
  public TrainerSettings withLearningRateDecay(long examples) {
    return new TrainerSettings(groupId, instanceId, batchSize, batchMaxWait, seed, lora, training, publishEverySteps,
        publishMaxInterval, gate, keptVersions, maxFusedRows, rehearsalRatio, trainThreads, examples);
  }

  /** The Kafka transactional id: stable per instance so a restarted instance fences its zombie. */
  public String transactionalId() {
    return groupId + "-" + instanceId;
  }
}
