package io.lorastream.train;

import io.lorastream.avro.AdapterSnapshot;
import io.lorastream.avro.TrainingExample;
import io.lorastream.contract.AvroCodec;
import io.lorastream.contract.CodecException;
import io.lorastream.contract.ExampleRules;
import io.lorastream.contract.Splits;
import io.lorastream.kafka.KafkaSettings;
import io.lorastream.kafka.Topics;
import io.lorastream.metrics.Metrics;
import io.lorastream.model.BaseModel;
import io.lorastream.model.FusedLoraTrainer;
import io.lorastream.model.LoraTrainer;
import io.lorastream.model.TrainingPair;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Future;
import java.util.function.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The continual trainer: consumes clean examples, trains each tenant's adapter on micro-batches and
 * publishes snapshots that pass the quality gate, at the cadence of {@link TrainerSettings}.
 * Examples tagged holdout ({@link Splits}) are never trained on: the tenant keeps the newest of them
 * (in its checkpoint) for evaluation. The trainer checks {@link ExampleRules} again (cheap) in case
 * something other than ingest writes its input topic. Control records ({@link AdapterControls}) on
 * the input topic roll a tenant back or import an adapter, in order with its examples.
 *
 * <p>Fused steps: the micro-batches ready in one cycle (at most one per tenant, in the batcher's
 * fair order) train together in {@link FusedLoraTrainer} steps, one forward and backward pass for
 * all their rows, each tenant with its own adapter and AdamW step; consecutive batches in that
 * order fill a step up to {@link TrainerSettings#maxFusedRows()} examples, a batch larger than
 * that trains alone. A fused step gives each tenant the update of its own separate step up to
 * float rounding (sums run in another order); which tenants share a step depends on what is ready
 * when, so with several tenants a restart reproduces weights to rounding, not bit for bit. With
 * {@code maxFusedRows} below the batch size every step is one tenant's {@link LoraTrainer#step}.
 *
 * <p>Train threads ({@link TrainerSettings#trainThreads()}): the fused steps of a cycle run on
 * {@link StepWorkers}, several groups at once with more than one thread, while the trainer thread
 * publishes and checkpoints the groups already trained, in the groups' order. The groups of a
 * cycle have distinct tenants, so the weights are those of one group after another.
 *
 * <p>A step whose loss is NaN or infinite is undone: the tenant returns to its last checkpoint and
 * the batch's examples go to the DLQ (reason {@code non-finite-loss}) in the same transaction. When
 * that happens in a fused step of several tenants, the group trains again one tenant at a time
 * (from the state before the fused step), so only the tenant with the non-finite loss is undone.
 *
 * <p>Exactly once: every cycle is one Kafka transaction holding the snapshots and checkpoints of
 * the tenants trained and the consumed offsets. Offsets are committed per partition only up to the
 * oldest example still buffered, so a crash re-reads buffered examples; examples re-read that a
 * tenant already trained on (its checkpoint's trained-through offsets) are skipped. A failed
 * transaction rewinds to the committed state: tenant states from checkpoints, positions from the
 * committed offsets. A cycle's commit runs on its own thread while the next cycle's steps run on
 * the weights it commits; that cycle sends nothing before the commit has ended, and its steps are
 * thrown away with the rest if the commit fails ({@link #commitCycle}).
 *
 * <p>Its parts: {@link LiveTenants} (the tenants' states in memory), {@link MicroBatcher} (the
 * examples waiting for their micro-batch), {@link StepWorkers} (the train threads),
 * {@link QualityGate}, {@link CycleRecords} (what a cycle's transaction holds besides the offsets),
 * {@link PendingControls} (rollbacks and imports), {@link TransactionalOutput} (the transactions and
 * their commits) and {@link CommittableOffsets}.
 */
public final class ContinualTrainer implements Runnable, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ContinualTrainer.class);
  private static final Duration POLL = Duration.ofMillis(100);
  private static final Duration CHECKPOINT_READ_TIMEOUT = Duration.ofSeconds(60);

  private final BaseModel base;
  private final KafkaSettings kafka;
  private final Topics topics;
  private final String inputTopic;
  private final TrainerSettings settings;
  private final Metrics metrics;
  private final TenantStates states;
  private final MicroBatcher batcher;
  private final LiveTenants tenants;
  private final CycleRecords records;
  private final PendingControls controls;
  /** Tenants whose holdout set changed since their last checkpoint. */
  private final Set<String> holdoutChanged = new LinkedHashSet<>();
  private final StepFunction stepFunction;
  private final QualityGate gate;
  /** Runs on the commit thread before each commit; tests fail commits with it. */
  private volatile Runnable beforeCommit = () -> {};
  /** Told the tenant of each candidate the gate evaluates, on the evaluating thread; tests observe with it. */
  private volatile Consumer<String> gateObserver = tenant -> {};
  private final Rehearsal rehearsal;
  private KafkaConsumer<String, byte[]> consumer;
  private TransactionalOutput output;
  private StepWorkers workers;
  /** When this trainer last took partitions: examples read from a backlog start waiting here. */
  private long assignedAtMillis;
  private volatile boolean running = true;
  private volatile boolean failed;
  private final Thread thread;

  /**
   * @param inputTopic the topic of validated examples the trainer reads
   */
  public ContinualTrainer(BaseModel base, KafkaSettings kafka, Topics topics, String inputTopic,
      TrainerSettings settings, Metrics metrics) {
    this(base, kafka, topics, inputTopic, settings, metrics, ContinualTrainer::fusedStep);
  }

  /**
   * The trainer's step: {@link FusedLoraTrainer#step} for several tenants, {@link LoraTrainer#step}
   * for one (the same update; the fused path sums in another order, so a tenant's weights agree
   * with those of its separate steps to float rounding, not bit for bit).
   */
  static float[] fusedStep(List<FusedLoraTrainer.TenantBatch> group) {
    if (group.size() == 1) {
      FusedLoraTrainer.TenantBatch only = group.get(0);
      return new float[] {only.trainer().step(only.batch(), only.learningRateScale())};
    }
    return FusedLoraTrainer.step(group);
  }

  /**
   * How a group of micro-batches is trained; tests replace it to observe or disturb steps. It is
   * called on the {@link StepWorkers}' threads, and on the trainer's own thread when a group is
   * trained again one tenant at a time, possibly while a worker runs another group's step: always
   * for distinct tenants, but it must be safe to call from several threads at once.
   */
  @FunctionalInterface
  interface StepFunction {
    /**
     * One optimizer step for each tenant of {@code group}, as {@link FusedLoraTrainer#step} takes it.
     *
     * @return each tenant's batch loss, in the order of {@code group}
     */
    float[] step(List<FusedLoraTrainer.TenantBatch> group);
  }

  ContinualTrainer(BaseModel base, KafkaSettings kafka, Topics topics, String inputTopic,
      TrainerSettings settings, Metrics metrics, StepFunction stepFunction) {
    this.stepFunction = stepFunction;
    this.base = base;
    this.kafka = kafka;
    this.topics = topics;
    this.inputTopic = inputTopic;
    this.settings = settings;
    this.metrics = metrics;
    this.states = new TenantStates(base, settings);
    this.tenants = new LiveTenants(states, metrics);
    this.records = new CycleRecords(topics, states, settings, metrics, () -> output.producer());
    this.gate = new QualityGate(base, settings);
    this.controls = new PendingControls(tenants, states, records, metrics, this::evaluate);
    this.rehearsal = new Rehearsal(settings.rehearsalRatio());
    this.batcher = new MicroBatcher(settings.batchSize(), settings.batchMaxWait());
    this.thread = new Thread(this, "lorastream-trainer-" + settings.instanceId());
  }

  /** Calls {@code observer} with the tenant of each candidate the gate evaluates, on the thread that evaluates it. */
  ContinualTrainer observeGate(Consumer<String> observer) {
    this.gateObserver = observer;
    return this;
  }

  /** Runs {@code hook} on the commit thread before each commit; what it throws fails that commit. */
  ContinualTrainer beforeEachCommit(Runnable hook) {
    this.beforeCommit = hook;
    return this;
  }

  /** True once the training loop has ended without {@link #close()} asking it to: it trains no more. */
  public boolean hasFailed() {
    return failed;
  }

  /** Starts the training loop on its own thread. */
  public ContinualTrainer start() {
    thread.start();
    return this;
  }

  @Override
  public void run() {
    try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(kafka.consumer(settings.groupId()),
            new StringDeserializer(), new ByteArrayDeserializer());
        TransactionalOutput out = new TransactionalOutput(kafka, settings.transactionalId(), () -> beforeCommit.run());
        StepWorkers w = new StepWorkers(settings.trainThreads(), thread.getName(), stepFunction)) {
      consumer = c;
      output = out;
      workers = w;
      retryWhileKafkaIsAway("starting the transactional producer", output::initialise);
      consumer.subscribe(List.of(inputTopic), new Rebalance());
      log.info("trainer {} consuming {} (batch {} examples or {} ms)", settings.instanceId(), inputTopic,
          settings.batchSize(), settings.batchMaxWait().toMillis());
      while (running) {
        for (ConsumerRecord<String, byte[]> record : consumer.poll(POLL)) {
          accept(record);
        }
        updateLag();
        if (output.commitEnded()) {
          settleCommit(true); // a commit that failed while nothing else happened rewinds now
        }
        List<MicroBatch> ready = batcher.takeReady(System.currentTimeMillis());
        if (!ready.isEmpty() || records.hasDeadLetters() || !controls.isEmpty() || !holdoutChanged.isEmpty()) {
          commitCycle(ready);
        }
      }
      settleCommit(true);
    } catch (WakeupException e) {
      if (running) {
        throw e;
      }
    } catch (ProducerFencedException | OutOfOrderSequenceException | AuthorizationException e) {
      log.error("trainer {} stopped: {} (another instance with the same id took over, or rights are missing)",
          settings.instanceId(), e.toString());
    } finally {
      failed = running;
      tenants.close();
      gate.close();
      log.info("trainer {} stopped", settings.instanceId());
    }
  }

  private void accept(ConsumerRecord<String, byte[]> record) {
    TopicPartition partition = new TopicPartition(record.topic(), record.partition());
    Header control = record.headers().lastHeader(AdapterControls.HEADER);
    if (control != null) {
      controls.accept(record, partition, batcher);
      return;
    }
    TrainingExample example;
    try {
      example = AvroCodec.TRAINING_EXAMPLE.decode(record.value());
    } catch (CodecException e) {
      records.deadLetter(record, e.dlqReason());
      return;
    }
    Optional<String> violation = ExampleRules.violation(record.key(), example);
    if (violation.isPresent()) {
      records.deadLetter(record, violation.get());
      return;
    }
    if (Splits.isHoldout(example)) {
      tenants.get(example.getTenant()).keepHoldout(example);
      holdoutChanged.add(example.getTenant());
      metrics.trainerExamples.labelValues("holdout").inc();
      return;
    }
    if (tenants.get(example.getTenant()).alreadyTrained(partition, record.offset())) {
      metrics.trainerExamples.labelValues("already-trained").inc();
      return;
    }
    batcher.add(new PendingExample(partition, record.offset(), example,
        waitingSince(record.timestamp(), assignedAtMillis, System.currentTimeMillis())));
  }

  /**
   * When an example's wait for its micro-batch began: when it was written to the input topic (the
   * record's timestamp), so the time it spent on the topic while this trainer was busy counts
   * towards {@link TrainerSettings#batchMaxWait()}; but not before this trainer took the partition
   * (a backlog found at start or after a rebalance still fills micro-batches instead of training at
   * once in small ones), and not after it was read (a writer's clock ahead of this one).
   */
  static long waitingSince(long recordTimestamp, long assignedAtMillis, long readAtMillis) {
    return Math.min(readAtMillis, Math.max(recordTimestamp, assignedAtMillis));
  }

  /**
   * Trains the ready micro-batches and commits their effects and the consumed offsets atomically.
   * The commit runs on {@link TransactionalOutput}'s commit thread and ends during the next cycle:
   * that cycle's steps start while it is in flight (on the tenants' uncommitted weights), and the
   * cycle sends nothing before it has ended. Should it fail, the next cycle's steps are thrown away
   * with everything else uncommitted ({@link #rewind()}).
   */
  private void commitCycle(List<MicroBatch> ready) {
    long now = System.currentTimeMillis();
    List<List<MicroBatch>> groups = fusedGroups(ready, settings.maxFusedRows());
    // Controls train and apply in order before the ready batches, so those wait for them.
    List<GroupStep> started = controls.isEmpty() ? startSteps(groups, now) : List.of();
    try {
      waitForCommit();
    } catch (KafkaException e) {
      awaitQuietly(started);
      recoverFromFailedTransaction(e);
      return;
    }
    try {
      output.producer().beginTransaction();
      records.transactionBegun();
      controls.applyAll(batch -> trainGroup(List.of(batch), now), now);
      finishSteps(started.isEmpty() ? startSteps(groups, now) : started, now);
      for (String tenant : holdoutChanged) {
        TenantState state = tenants.getIfLive(tenant);
        if (state != null && !records.checkpointed(tenant)) {
          records.checkpoint(state, state.adapter.toPeftSafetensors(), now);
        }
      }
      records.sendDeadLetters();
      output.commitInBackground(CommittableOffsets.of(consumer, batcher), consumer.groupMetadata());
      holdoutChanged.clear();
    } catch (ProducerFencedException | OutOfOrderSequenceException | AuthorizationException e) {
      throw e;
    } catch (KafkaException e) {
      awaitQuietly(started);
      recoverFromFailedTransaction(e);
    }
  }

  /**
   * Waits for the commit in flight, if any, and counts it; a commit that failed is thrown (the
   * transaction must then be aborted). The wait is the part of a commit the steps did not hide.
   */
  private void waitForCommit() {
    long waiting = System.nanoTime();
    try {
      long took = output.awaitCommit();
      if (took >= 0) {
        metrics.trainerCommitSeconds.observe(took / 1e9);
        metrics.trainerLastCommit.set(System.currentTimeMillis() / 1000.0);
      }
    } finally {
      metrics.trainerCommitWaitSeconds.observe((System.nanoTime() - waiting) / 1e9);
    }
  }

  /**
   * Waits for the commit in flight, if any. One that failed is aborted, and with {@code rewind}
   * the trainer goes back to the last commit (a change of assignment restores that state itself).
   */
  private void settleCommit(boolean rewind) {
    if (!output.commitInFlight()) {
      return;
    }
    try {
      waitForCommit();
    } catch (KafkaException e) {
      if (rewind) {
        recoverFromFailedTransaction(e);
      } else {
        abortFailedTransaction(e);
      }
    }
  }

  /** After a transaction failed (fatal errors excepted): abort it and go back to the last commit. */
  private void recoverFromFailedTransaction(KafkaException e) {
    abortFailedTransaction(e);
    log.warn("rewinding to the last commit");
    retryWhileKafkaIsAway("rewinding to the last commit", this::rewind);
  }

  /** Aborts a failed transaction; fencing and authorization errors are fatal and passed on. */
  private void abortFailedTransaction(KafkaException e) {
    if (e instanceof ProducerFencedException || e instanceof OutOfOrderSequenceException
        || e instanceof AuthorizationException) {
      throw e;
    }
    log.warn("transaction failed, aborting it: {}", e.toString());
    retryWhileKafkaIsAway("aborting the failed transaction", output::abort);
  }

  /** {@link KafkaRetries#untilDone} while the trainer is not closing. */
  private void retryWhileKafkaIsAway(String what, Runnable action) {
    KafkaRetries.untilDone(settings.instanceId(), what, action, () -> running);
  }

  /**
   * Splits a cycle's micro-batches, in their order, into groups trained by one fused step each: a
   * group takes the next batches while its rows stay within {@code maxRows} and its tenants distinct.
   */
  static List<List<MicroBatch>> fusedGroups(List<MicroBatch> batches, int maxRows) {
    List<List<MicroBatch>> groups = new ArrayList<>();
    List<MicroBatch> group = new ArrayList<>();
    Set<String> inGroup = new HashSet<>();
    int rows = 0;
    for (MicroBatch batch : batches) {
      int size = batch.examples().size();
      if (!group.isEmpty() && (rows + size > maxRows || inGroup.contains(batch.tenant()))) {
        groups.add(group);
        group = new ArrayList<>();
        inGroup.clear();
        rows = 0;
      }
      group.add(batch);
      inGroup.add(batch.tenant());
      rows += size;
    }
    if (!group.isEmpty()) {
      groups.add(group);
    }
    return groups;
  }

  /**
   * Starts the fused steps of a cycle's groups on the {@link StepWorkers} (several at once with
   * more than one train thread; the groups' tenants are distinct). {@link #finishSteps} takes their
   * outcomes; {@link #awaitQuietly} waits for them when they are thrown away.
   */
  private List<GroupStep> startSteps(List<List<MicroBatch>> groups, long now) {
    List<GroupStep> steps = new ArrayList<>(groups.size());
    try {
      for (List<MicroBatch> group : groups) {
        GroupStep step = prepare(group);
        step.result = workers.submit(step.batches, losses -> evaluateCandidates(step, losses, now));
        steps.add(step);
      }
      return steps;
    } catch (RuntimeException e) {
      awaitQuietly(steps);
      throw e;
    }
  }

  /**
   * Takes each started group's outcome in order ({@link #afterGroupStep}), so the transaction's
   * records come in the order of the groups whatever the threads. No step is still running when
   * this returns or throws.
   */
  private void finishSteps(List<GroupStep> steps, long now) {
    try {
      for (GroupStep step : steps) {
        afterGroupStep(step, StepWorkers.await(step.result), now);
      }
    } finally {
      awaitQuietly(steps);
    }
  }

  /** Waits until every one of {@code steps} has ended, whatever its outcome. */
  private static void awaitQuietly(List<GroupStep> steps) {
    for (GroupStep step : steps) {
      StepWorkers.awaitQuietly(step.result);
    }
  }

  /**
   * A group's micro-batches, their tenants' states and the step's batches (rehearsal mixed in);
   * once the step has run on a worker, the gate's evaluation of each member that became a publish
   * candidate (null for the others).
   */
  private static final class GroupStep {
    final List<MicroBatch> group;
    final List<TenantState> members;
    final List<FusedLoraTrainer.TenantBatch> batches;
    final QualityGate.Evaluation[] evaluations;
    Future<StepWorkers.Result> result;

    GroupStep(List<MicroBatch> group, List<TenantState> members, List<FusedLoraTrainer.TenantBatch> batches) {
      this.group = group;
      this.members = members;
      this.batches = batches;
      this.evaluations = new QualityGate.Evaluation[group.size()];
    }
  }

  /**
   * On the worker that ran the group's step, right after it: the gate's evaluation of each member
   * that the step makes a publish candidate, so that the gate's forward passes (several times a
   * step's cost) run on the train threads too, at once for different groups, rather than on the
   * trainer thread one candidate after another. Nothing is evaluated when a loss is not finite:
   * those steps are undone. Safe because the trainer thread touches the group's tenants only after
   * the step's future is done, and a cycle's groups have distinct tenants.
   */
  private void evaluateCandidates(GroupStep step, float[] losses, long now) {
    if (!allFinite(losses)) {
      return;
    }
    for (int i = 0; i < step.members.size(); i++) {
      TenantState state = step.members.get(i);
      if (isPublishCandidate(state, state.stepsSincePublish + 1, now)) {
        step.evaluations[i] = evaluate(state);
      }
    }
  }

  private QualityGate.Evaluation evaluate(TenantState state) {
    gateObserver.accept(state.tenant);
    long started = System.nanoTime();
    QualityGate.Evaluation evaluation = gate.evaluate(state);
    metrics.trainerGateSeconds.observe((System.nanoTime() - started) / 1e9);
    return evaluation;
  }

  private GroupStep prepare(List<MicroBatch> group) {
    List<TenantState> members = new ArrayList<>(group.size());
    List<FusedLoraTrainer.TenantBatch> batches = new ArrayList<>(group.size());
    for (MicroBatch batch : group) {
      TenantState state = tenants.get(batch.tenant());
      members.add(state);
      batches.add(new FusedLoraTrainer.TenantBatch(state.trainer,
          rehearsal.mixInto(pairsOf(batch), state.tenant, state.examplesSeen),
          settings.learningRateScale(batch.examples().size(), state.examplesSeen)));
    }
    return new GroupStep(group, members, batches);
  }

  /** One fused step for the group's tenants on this thread, then what follows it ({@link #afterGroupStep}). */
  private void trainGroup(List<MicroBatch> group, long now) {
    GroupStep step = prepare(group);
    afterGroupStep(step, StepWorkers.run(stepFunction, step.batches), now);
  }

  /**
   * Each tenant's publish decision and checkpoint after the group's step. A non-finite loss in a
   * group of several tenants trains the group again one tenant at a time, on this thread.
   */
  private void afterGroupStep(GroupStep step, StepWorkers.Result result, long now) {
    List<MicroBatch> group = step.group;
    List<TenantState> members = step.members;
    List<FusedLoraTrainer.TenantBatch> batches = step.batches;
    float[] losses = result.losses();
    IllegalStateException refused = result.refused();
    metrics.trainerStepSeconds.observe(result.nanos() / 1e9);
    metrics.trainerFusedBatchTenants.observe(group.size());
    if (refused != null) {
      if (group.size() > 1) {
        log.warn("fused step of {} tenants failed ({}); training them one at a time", group.size(),
            refused.getMessage());
        group.forEach(batch -> trainGroup(List.of(batch), now));
        return;
      }
      float loss = members.get(0).trainer.loss(batches.get(0).batch());
      if (Float.isFinite(loss)) {
        throw refused;
      }
      undoNonFiniteStep(members.get(0), group.get(0), loss, now);
      return;
    }
    metrics.trainerSteps.inc(group.size());
    for (FusedLoraTrainer.TenantBatch batch : batches) {
      metrics.trainerTokens.inc(batch.trainer().lastStepInputTokens());
    }
    if (group.size() > 1 && !allFinite(losses)) {
      // Every tenant of the group took its step: all go back to the state before it, then train alone.
      log.warn("fused step of {} tenants gave a non-finite loss; training them one at a time", group.size());
      members.forEach(tenants::backToLastCheckpoint);
      group.forEach(batch -> trainGroup(List.of(batch), now));
      return;
    }
    for (int i = 0; i < group.size(); i++) {
      afterStep(members.get(i), group.get(i), losses[i], step.evaluations[i], now);
    }
  }

  private static boolean allFinite(float[] losses) {
    for (float loss : losses) {
      if (!Float.isFinite(loss)) {
        return false;
      }
    }
    return true;
  }

  private static List<TrainingPair> pairsOf(MicroBatch batch) {
    List<TrainingPair> pairs = new ArrayList<>(batch.examples().size());
    for (PendingExample p : batch.examples()) {
      TrainingExample e = p.example();
      pairs.add(new TrainingPair(e.getPrompt(), e.getCompletion(), e.getWeight()));
    }
    return pairs;
  }

  /**
   * After a step of this tenant on {@code batch}: undo it if its loss is not finite, else publish
   * (if a candidate the gate passes) and checkpoint. {@code evaluated} is the gate's evaluation when
   * a worker already made it, else null.
   */
  private void afterStep(TenantState state, MicroBatch batch, float loss, QualityGate.Evaluation evaluated,
      long now) {
    if (!Float.isFinite(loss)) {
      undoNonFiniteStep(state, batch, loss, now);
      return;
    }
    metrics.trainerExamples.labelValues("trained").inc(batch.examples().size());
    state.lastLoss = loss;
    state.stepsSincePublish++;
    batch.examples().forEach(state::markTrained);

    byte[] weights = state.adapter.toPeftSafetensors();
    if (isPublishCandidate(state, state.stepsSincePublish, now)) {
      QualityGate.Evaluation evaluation = evaluated != null ? evaluated : evaluate(state);
      if (evaluation.gatedBy() == null) {
        AdapterSnapshot snapshot = records.publish(state, weights, state.publishedVersion == 0 ? null : state.publishedVersion,
            evaluation, now);
        log.info("tenant {} v{}: {} examples, loss {}, holdout {}, canary {}", state.tenant, snapshot.getVersion(),
            batch.examples().size(), String.format("%.4f", loss), evaluation.holdoutLoss(), evaluation.canaryLoss());
      } else {
        metrics.snapshotsGated.labelValues(evaluation.gatedBy()).inc();
        log.info("tenant {}: candidate after {} examples withheld by the {} gate ({})", state.tenant,
            state.examplesSeen, evaluation.gatedBy(), evaluation);
      }
    }
    records.checkpoint(state, weights, now);
  }

  /** Whether the tenant's weights are a publish candidate, {@code stepsSincePublish} steps after its last publish. */
  private boolean isPublishCandidate(TenantState state, int stepsSincePublish, long now) {
    return stepsSincePublish >= settings.publishEverySteps()
        || state.publishedAt == null
        || now - state.publishedAt >= settings.publishMaxInterval().toMillis();
  }

  /**
   * The step's update is not kept: the tenant goes back to its last checkpoint (the state before
   * this step), and the batch's examples are consumed as poison: each goes to the DLQ.
   */
  private void undoNonFiniteStep(TenantState state, MicroBatch batch, float loss, long now) {
    metrics.trainerNonFiniteSteps.inc();
    log.warn("tenant {}: step on {} examples gave loss {}; back to its last checkpoint, the batch goes to the DLQ",
        state.tenant, batch.examples().size(), loss);
    TenantState restored = tenants.backToLastCheckpoint(state);
    for (PendingExample p : batch.examples()) {
      restored.markHandled(p.partition(), p.offset());
      records.deadLetter(state.tenant, AvroCodec.TRAINING_EXAMPLE.encode(p.example()), "non-finite-loss: the training step on "
          + "this example's batch gave loss " + loss);
      metrics.trainerExamples.labelValues("non-finite").inc();
    }
    records.checkpoint(restored, restored.adapter.toPeftSafetensors(), now);
  }

  private void updateLag() {
    CommittableOffsets.lag(consumer, batcher).ifPresent(metrics.trainerConsumerLag::set);
  }

  /** Back to the last committed state: drop memory, reload checkpoints, re-read from committed offsets. */
  private void rewind() {
    forgetUncommitted();
    restoreCommitted();
  }

  private void forgetUncommitted() {
    records.forgetUncommitted();
    controls.forgetUncommitted();
    holdoutChanged.clear();
    batcher.clear();
    tenants.forgetAll();
  }

  private void restoreCommitted() {
    tenants.useCommitted(CheckpointReader.readAll(kafka, topics.checkpoints().name(), CHECKPOINT_READ_TIMEOUT));
    Map<TopicPartition, OffsetAndMetadata> committed = consumer.committed(consumer.assignment());
    for (TopicPartition partition : consumer.assignment()) {
      OffsetAndMetadata offset = committed.get(partition);
      if (offset == null) {
        consumer.seekToBeginning(List.of(partition));
      } else {
        consumer.seek(partition, offset.offset());
      }
    }
  }

  /**
   * Tenants move with their partitions. Any change of assignment rewinds this instance to the
   * committed state (whatever the rebalance protocol), so a tenant always resumes from the
   * checkpoint its previous owner committed. The commit in flight ends first (committed, or aborted
   * when it failed), so the state restored is the one the group sees.
   */
  private final class Rebalance implements ConsumerRebalanceListener {
    @Override
    public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
      settleCommit(false);
      forgetUncommitted();
    }

    @Override
    public void onPartitionsLost(Collection<TopicPartition> partitions) {
      settleCommit(false);
      forgetUncommitted();
    }

    @Override
    public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
      assignedAtMillis = System.currentTimeMillis();
      settleCommit(false);
      forgetUncommitted();
      retryWhileKafkaIsAway("restoring the committed state", ContinualTrainer.this::restoreCommitted);
      log.info("trainer {} owns {} partitions; {} tenant checkpoints and {} kept versions known",
          settings.instanceId(), consumer.assignment().size(), tenants.committed().tenants().size(),
          tenants.committed().versions().size());
    }
  }

  @Override
  public void close() {
    running = false;
    if (consumer != null) {
      consumer.wakeup();
    }
    try {
      thread.join(30_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
