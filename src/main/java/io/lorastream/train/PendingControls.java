package io.lorastream.train;

import io.lorastream.avro.AdapterControl;
import io.lorastream.avro.AdapterSnapshot;
import io.lorastream.avro.PublishedVersion;
import io.lorastream.contract.Bytes;
import io.lorastream.contract.CodecException;
import io.lorastream.contract.Sha256;
import io.lorastream.metrics.Metrics;
import io.lorastream.model.LoraConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Function;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The control records ({@link AdapterControls}: rollbacks and imports) read since the last cycle,
 * each applied in the next cycle in order with its tenant's examples: what the tenant had buffered
 * before it trains first, so its trained-through offset stays a clean boundary. Applying one gives
 * the tenant new weights and a fresh optimizer, published at once as its next version (an
 * operator's explicit choice: the gate is evaluated for the snapshot's losses, not obeyed). One that
 * cannot apply (an unknown version, an adapter that does not fit) goes to the DLQ with its reason.
 */
final class PendingControls {
  private static final Logger log = LoggerFactory.getLogger(PendingControls.class);

  private final LiveTenants tenants;
  private final TenantStates states;
  private final CycleRecords records;
  private final Metrics metrics;
  private final Function<TenantState, QualityGate.Evaluation> gate;
  private final List<PendingControl> pending = new ArrayList<>();

  /** @param gate evaluates a tenant's weights as the quality gate does, for the published snapshot's losses */
  PendingControls(LiveTenants tenants, TenantStates states, CycleRecords records, Metrics metrics,
      Function<TenantState, QualityGate.Evaluation> gate) {
    this.tenants = tenants;
    this.states = states;
    this.records = records;
    this.metrics = metrics;
    this.gate = gate;
  }

  private record PendingControl(TopicPartition partition, ConsumerRecord<String, byte[]> record,
      AdapterControl control, List<MicroBatch> before) {}

  /**
   * A control record read from {@code partition}: queued with what {@code batcher} holds of its
   * tenant (taken out of the batcher), skipped when the tenant's checkpoint is past it already, or
   * refused (undecodable, or keyed by another tenant).
   */
  void accept(ConsumerRecord<String, byte[]> record, TopicPartition partition, MicroBatcher batcher) {
    AdapterControl control;
    try {
      control = AdapterControls.CODEC.decode(record.value());
    } catch (CodecException e) {
      records.deadLetter(record, e.dlqReason());
      return;
    }
    if (!control.getTenant().equals(record.key())) {
      records.deadLetter(record, "tenant-mismatch: control record for tenant " + control.getTenant() + " under key "
          + record.key());
      return;
    }
    if (tenants.get(control.getTenant()).alreadyTrained(partition, record.offset())) {
      return;
    }
    pending.add(new PendingControl(partition, record, control, batcher.drain(control.getTenant())));
  }

  boolean isEmpty() {
    return pending.isEmpty();
  }

  /**
   * In the open transaction, in the order read: each control's earlier micro-batches of its tenant
   * trained by {@code train}, then the control applied. The queue is empty afterwards.
   */
  void applyAll(Consumer<MicroBatch> train, long now) {
    for (PendingControl control : pending) {
      control.before().forEach(train);
      apply(control, now);
    }
    pending.clear();
  }

  /** Back to the last commit: the controls not applied are read again. */
  void forgetUncommitted() {
    pending.clear();
  }

  private void apply(PendingControl pending, long now) {
    AdapterControl control = pending.control();
    String action = control.getAction().name().toLowerCase(Locale.ROOT);
    TenantState state = tenants.get(control.getTenant());
    byte[] weights;
    LoraConfig lora;
    Long parent;
    switch (control.getAction()) {
      case ROLLBACK -> {
        Optional<PublishedVersion> version = state.recentVersion(control.getToVersion());
        if (version.isEmpty()) {
          reject(state, pending, action, now, "unknown-version: tenant " + state.tenant + " keeps versions "
              + state.recentVersions().stream().map(PublishedVersion::getVersion).toList() + ", not "
              + control.getToVersion());
          return;
        }
        weights = Bytes.of(version.get().getWeights());
        lora = state.adapter.config();
        parent = control.getToVersion();
      }
      case IMPORT -> {
        weights = control.getWeights() == null ? null : Bytes.of(control.getWeights());
        try {
          lora = AdapterControls.importableConfig(control.getPeftConfigJson());
        } catch (RuntimeException e) {
          reject(state, pending, action, now, "invalid-adapter: " + e.getMessage());
          return;
        }
        parent = null;
      }
      default -> throw new IllegalStateException("unknown control action " + control.getAction());
    }
    TenantState next;
    try {
      if (weights == null) {
        throw new IllegalArgumentException("no weights");
      }
      next = states.withWeights(state, weights, lora);
    } catch (RuntimeException e) {
      reject(state, pending, action, now, "invalid-adapter: " + e.getMessage());
      return;
    }
    tenants.replace(state, next);
    next.markHandled(pending.partition(), pending.record().offset());
    byte[] canonical = next.adapter.toPeftSafetensors();
    AdapterSnapshot snapshot = records.publish(next, canonical, parent, gate.apply(next), now);
    records.checkpoint(next, canonical, now);
    metrics.trainerControls.labelValues(action, "applied").inc();
    log.info("tenant {} v{}: {} applied (request {}), weights {}", next.tenant, snapshot.getVersion(), action,
        control.getRequestId(), Sha256.hex(canonical));
  }

  private void reject(TenantState state, PendingControl pending, String action, long now, String reason) {
    metrics.trainerControls.labelValues(action, "rejected").inc();
    records.deadLetter(pending.record(), reason);
    state.markHandled(pending.partition(), pending.record().offset());
    records.checkpoint(state, state.adapter.toPeftSafetensors(), now);
  }
}
