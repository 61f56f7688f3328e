package io.lorastream.train;

import io.lorastream.avro.AdapterCheckpoint;
import io.lorastream.avro.AdapterSnapshot;
import io.lorastream.avro.PublishedVersion;
import io.lorastream.contract.AvroCodec;
import io.lorastream.kafka.Topics;
import io.lorastream.metrics.Metrics;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The records a training cycle's transaction holds besides the consumed offsets: the snapshots it
 * publishes, the checkpoints of the tenants it touched (with the weights of newly kept versions and
 * tombstones for those dropped), and the dead letters of the records it refused. Snapshots and
 * checkpoints are sent as they are made, into the open transaction; dead letters are collected
 * between cycles (records are refused while no transaction is open) and sent at the cycle's end.
 */
final class CycleRecords {
  private static final Logger log = LoggerFactory.getLogger(CycleRecords.class);

  private final Topics topics;
  private final TenantStates states;
  private final TrainerSettings settings;
  private final Metrics metrics;
  private final Supplier<KafkaProducer<String, byte[]>> producer;
  private final List<ProducerRecord<String, byte[]>> deadLetters = new ArrayList<>();
  /** Tenants whose checkpoint the open transaction already holds. */
  private final Set<String> checkpointed = new HashSet<>();

  /** @param producer the transactional producer, with a transaction open whenever a record is sent */
  CycleRecords(Topics topics, TenantStates states, TrainerSettings settings, Metrics metrics,
      Supplier<KafkaProducer<String, byte[]>> producer) {
    this.topics = topics;
    this.states = states;
    this.settings = settings;
    this.metrics = metrics;
    this.producer = producer;
  }

  /** A new transaction has begun: it holds no checkpoint yet. */
  void transactionBegun() {
    checkpointed.clear();
  }

  /** Whether the open transaction holds the tenant's checkpoint. */
  boolean checkpointed(String tenant) {
    return checkpointed.contains(tenant);
  }

  /**
   * Sends the tenant's {@code weights} as its next version, which the tenant keeps (the newest
   * {@link TrainerSettings#keptVersions()}) for rollbacks and for the gate's comparisons.
   *
   * @param parentVersion the version the weights came from, null for none
   */
  AdapterSnapshot publish(TenantState state, byte[] weights, Long parentVersion, QualityGate.Evaluation evaluation,
      long now) {
    AdapterSnapshot snapshot = states.snapshot(state, weights, parentVersion, evaluation.holdoutLoss(),
        evaluation.baseHoldoutLoss(), now);
    producer.get().send(new ProducerRecord<>(topics.adapters().name(), state.tenant,
        AvroCodec.ADAPTER_SNAPSHOT.encode(snapshot)));
    state.publishedVersion = snapshot.getVersion();
    state.rememberVersion(new PublishedVersion(snapshot.getVersion(), ByteBuffer.wrap(weights),
        snapshot.getWeightsSha256(), state.examplesSeen, Instant.ofEpochMilli(now)), settings.keptVersions());
    if (evaluation.holdoutRows().length > 0) {
      state.holdoutLosses.put(snapshot.getVersion(), evaluation.holdoutExamples(), evaluation.holdoutRows());
    }
    state.stepsSincePublish = 0;
    state.publishedAt = now;
    metrics.snapshotsPublished.inc();
    return snapshot;
  }

  /**
   * Sends the tenant's checkpoint, with the weights records of versions published since its last
   * checkpoint and tombstones for the versions it no longer keeps.
   */
  void checkpoint(TenantState state, byte[] weights, long now) {
    String topic = topics.checkpoints().name();
    Long weightsVersion = null;
    for (PublishedVersion version : state.unwrittenVersions()) {
      producer.get().send(new ProducerRecord<>(topic, Topics.keptVersionKey(state.tenant, version.getVersion()),
          AvroCodec.KEPT_VERSION.encode(TenantStates.keptVersion(state.tenant, version))));
      if (version.getWeights().hasArray() && version.getWeights().array() == weights) {
        weightsVersion = version.getVersion(); // published in this step: its record holds the weights
      }
    }
    for (long dropped : state.droppedVersions()) {
      producer.get().send(new ProducerRecord<>(topic, Topics.keptVersionKey(state.tenant, dropped), null));
    }
    state.versionRecordsWritten();
    AdapterCheckpoint checkpoint = states.checkpoint(state, weights, weightsVersion, now);
    producer.get().send(new ProducerRecord<>(topic, state.tenant, AvroCodec.ADAPTER_CHECKPOINT.encode(checkpoint)));
    state.lastCheckpoint = checkpoint;
    checkpointed.add(state.tenant);
  }

  /** A refused record for the DLQ ({@link #deadLetter(String, byte[], String)}), logged. */
  void deadLetter(ConsumerRecord<String, byte[]> record, String reason) {
    deadLetter(record.key(), record.value(), reason);
    log.warn("record at {}-{}@{} sent to the DLQ: {}", record.topic(), record.partition(), record.offset(), reason);
  }

  /** A refused record for the DLQ, with the reason in its error header; sent by {@link #sendDeadLetters}. */
  void deadLetter(String key, byte[] value, String reason) {
    metrics.trainerExamples.labelValues("rejected").inc();
    ProducerRecord<String, byte[]> dead = new ProducerRecord<>(topics.dlq().name(), key, value);
    dead.headers().add(Topics.ERROR_HEADER, reason.getBytes(StandardCharsets.UTF_8));
    deadLetters.add(dead);
  }

  boolean hasDeadLetters() {
    return !deadLetters.isEmpty();
  }

  /**
   * Sends the dead letters collected so far into the open transaction; should it fail, the trainer
   * rewinds and refuses their records again when it reads them again.
   */
  void sendDeadLetters() {
    deadLetters.forEach(producer.get()::send);
    deadLetters.clear();
  }

  /** Back to the last commit: the dead letters not committed are dropped (their records are read again). */
  void forgetUncommitted() {
    deadLetters.clear();
  }
}
