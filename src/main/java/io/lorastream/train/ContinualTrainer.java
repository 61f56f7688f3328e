package io.lorastream.train;

import io.lorastream.avro.AdapterCheckpoint;
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
import io.lorastream.model.TrainingPair;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The continual trainer: consumes clean examples, trains each tenant's adapter on micro-batches and
 * publishes a snapshot after each step. Examples tagged holdout ({@link Splits}) are never trained
 * on: the tenant keeps the newest of them for evaluation, and their offsets commit like any other.
 * The trainer checks {@link ExampleRules} again (cheap) in case something other than ingest
 * writes its input topic.
 *
 * <p>Exactly once: every cycle is one Kafka transaction holding the snapshots and checkpoints of
 * the tenants trained and the consumed offsets. Offsets are committed per partition only up to the
 * oldest example still buffered, so a crash re-reads buffered examples; examples re-read that a
 * tenant already trained on (its checkpoint's trained-through offsets) are skipped. A failed
 * transaction rewinds to the committed state: tenant states from checkpoints, positions from the
 * committed offsets.
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
  private final Map<String, TenantState> tenants = new HashMap<>();
  private final List<ProducerRecord<String, byte[]>> pendingDeadLetters = new ArrayList<>();
  private Map<String, AdapterCheckpoint> checkpoints = Map.of();
  private KafkaConsumer<String, byte[]> consumer;
  private KafkaProducer<String, byte[]> producer;
  private volatile boolean running = true;
  private final Thread thread;

  /**
   * @param inputTopic the topic of validated examples the trainer reads
   */
  public ContinualTrainer(BaseModel base, KafkaSettings kafka, Topics topics, String inputTopic,
      TrainerSettings settings, Metrics metrics) {
    this.base = base;
    this.kafka = kafka;
    this.topics = topics;
    this.inputTopic = inputTopic;
    this.settings = settings;
    this.metrics = metrics;
    this.states = new TenantStates(base, settings);
    this.batcher = new MicroBatcher(settings.batchSize(), settings.batchMaxWait());
    this.thread = new Thread(this, "lorastream-trainer-" + settings.instanceId());
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
        KafkaProducer<String, byte[]> p = new KafkaProducer<>(
            kafka.transactionalProducer(settings.transactionalId()), new StringSerializer(), new ByteArraySerializer())) {
      consumer = c;
      producer = p;
      producer.initTransactions();
      consumer.subscribe(List.of(inputTopic), new Rebalance());
      log.info("trainer {} consuming {} (batch {} examples or {} ms)", settings.instanceId(), inputTopic,
          settings.batchSize(), settings.batchMaxWait().toMillis());
      while (running) {
        for (ConsumerRecord<String, byte[]> record : consumer.poll(POLL)) {
          accept(record);
        }
        List<MicroBatch> ready = batcher.takeReady(System.currentTimeMillis());
        if (!ready.isEmpty() || !pendingDeadLetters.isEmpty()) {
          commitCycle(ready);
        }
      }
    } catch (WakeupException e) {
      if (running) {
        throw e;
      }
    } catch (ProducerFencedException | OutOfOrderSequenceException | AuthorizationException e) {
      log.error("trainer {} stopped: {} (another instance with the same id took over, or rights are missing)",
          settings.instanceId(), e.toString());
    } finally {
      tenants.values().forEach(TenantState::close);
      tenants.clear();
      log.info("trainer {} stopped", settings.instanceId());
    }
  }

  private void accept(ConsumerRecord<String, byte[]> record) {
    TopicPartition partition = new TopicPartition(record.topic(), record.partition());
    TrainingExample example;
    try {
      example = AvroCodec.TRAINING_EXAMPLE.decode(record.value());
    } catch (CodecException e) {
      deadLetter(record, e.dlqReason());
      return;
    }
    Optional<String> violation = ExampleRules.violation(record.key(), example);
    if (violation.isPresent()) {
      deadLetter(record, violation.get());
      return;
    }
    if (Splits.isHoldout(example)) {
      stateFor(example.getTenant()).keepHoldout(example);
      metrics.trainerExamples.labelValues("holdout").inc();
      return;
    }
    if (stateFor(example.getTenant()).alreadyTrained(partition, record.offset())) {
      metrics.trainerExamples.labelValues("already-trained").inc();
      return;
    }
    batcher.add(new PendingExample(partition, record.offset(), example, System.currentTimeMillis()));
  }

  private void deadLetter(ConsumerRecord<String, byte[]> record, String reason) {
    metrics.trainerExamples.labelValues("rejected").inc();
    ProducerRecord<String, byte[]> dead = new ProducerRecord<>(topics.dlq().name(), record.key(), record.value());
    dead.headers().add(Topics.ERROR_HEADER, reason.getBytes(StandardCharsets.UTF_8));
    pendingDeadLetters.add(dead);
    log.warn("example at {}-{}@{} sent to the DLQ: {}", record.topic(), record.partition(), record.offset(), reason);
  }

  private TenantState stateFor(String tenant) {
    TenantState state = tenants.get(tenant);
    if (state == null) {
      AdapterCheckpoint checkpoint = checkpoints.get(tenant);
      state = checkpoint == null ? states.fresh(tenant) : states.restore(checkpoint);
      tenants.put(tenant, state);
      metrics.trainerTenants.set(tenants.size());
    }
    return state;
  }

  /** Trains the ready micro-batches and commits their effects and the consumed offsets atomically. */
  private void commitCycle(List<MicroBatch> ready) {
    producer.beginTransaction();
    try {
      long now = System.currentTimeMillis();
      for (MicroBatch batch : ready) {
        trainAndPublish(batch, now);
      }
      pendingDeadLetters.forEach(producer::send);
      producer.sendOffsetsToTransaction(committableOffsets(), consumer.groupMetadata());
      producer.commitTransaction();
      pendingDeadLetters.clear();
    } catch (ProducerFencedException | OutOfOrderSequenceException | AuthorizationException e) {
      throw e;
    } catch (KafkaException e) {
      log.warn("transaction aborted, rewinding to the last commit: {}", e.toString());
      producer.abortTransaction();
      rewind();
    }
  }

  private void trainAndPublish(MicroBatch batch, long now) {
    TenantState state = stateFor(batch.tenant());
    List<TrainingPair> pairs = new ArrayList<>(batch.examples().size());
    for (PendingExample p : batch.examples()) {
      TrainingExample e = p.example();
      pairs.add(new TrainingPair(e.getPrompt(), e.getCompletion(), e.getWeight()));
    }
    long started = System.nanoTime();
    float loss = state.trainer.step(pairs);
    metrics.trainerStepSeconds.observe((System.nanoTime() - started) / 1e9);
    metrics.trainerSteps.inc();
    metrics.trainerExamples.labelValues("trained").inc(pairs.size());
    state.lastLoss = loss;
    batch.examples().forEach(state::markTrained);

    byte[] weights = state.adapter.toPeftSafetensors();
    AdapterSnapshot snapshot = states.snapshot(state, weights, now);
    state.publishedVersion = snapshot.getVersion();
    producer.send(new ProducerRecord<>(topics.adapters().name(), state.tenant,
        AvroCodec.ADAPTER_SNAPSHOT.encode(snapshot)));
    producer.send(new ProducerRecord<>(topics.checkpoints().name(), state.tenant,
        AvroCodec.ADAPTER_CHECKPOINT.encode(states.checkpoint(state, weights, now))));
    metrics.snapshotsPublished.inc();
    log.info("tenant {} v{}: {} examples, loss {}", state.tenant, snapshot.getVersion(), pairs.size(),
        String.format("%.4f", loss));
  }

  /** Per assigned partition: the oldest buffered offset, or the position when nothing is buffered. */
  private Map<TopicPartition, OffsetAndMetadata> committableOffsets() {
    Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
    for (TopicPartition partition : consumer.assignment()) {
      OptionalLong oldest = batcher.oldestOffset(partition);
      long commit = oldest.isPresent() ? oldest.getAsLong() : consumer.position(partition);
      offsets.put(partition, new OffsetAndMetadata(commit));
    }
    return offsets;
  }

  /** Back to the last committed state: drop memory, reload checkpoints, re-read from committed offsets. */
  private void rewind() {
    forgetUncommitted();
    restoreCommitted();
  }

  private void forgetUncommitted() {
    pendingDeadLetters.clear();
    batcher.clear();
    tenants.values().forEach(TenantState::close);
    tenants.clear();
  }

  private void restoreCommitted() {
    checkpoints = CheckpointReader.readAll(kafka, topics.checkpoints().name(), CHECKPOINT_READ_TIMEOUT);
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
   * checkpoint its previous owner committed.
   */
  private final class Rebalance implements ConsumerRebalanceListener {
    @Override
    public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
      forgetUncommitted();
    }

    @Override
    public void onPartitionsLost(Collection<TopicPartition> partitions) {
      forgetUncommitted();
    }

    @Override
    public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
      forgetUncommitted();
      restoreCommitted();
      log.info("trainer {} owns {} partitions; {} tenant checkpoints known", settings.instanceId(),
          consumer.assignment().size(), checkpoints.size());
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
