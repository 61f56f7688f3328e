package io.lorastream.train;

import io.lorastream.avro.AdapterCheckpoint;
import io.lorastream.metrics.Metrics;
import java.util.HashMap;
import java.util.Map;

/**
 * The trainer's tenants in memory: each tenant of the partitions it owns that it has met since its
 * last rewind, made the first time it is needed from the tenant's committed checkpoint (fresh when
 * it has none). Used by the trainer's thread only (the train threads are handed the states of
 * their steps' tenants).
 */
final class LiveTenants implements AutoCloseable {
  private final TenantStates states;
  private final Metrics metrics;
  private final Map<String, TenantState> byTenant = new HashMap<>();
  private CommittedCheckpoints committed = CommittedCheckpoints.NONE;

  LiveTenants(TenantStates states, Metrics metrics) {
    this.states = states;
    this.metrics = metrics;
  }

  /** The tenant's state, restored from its committed checkpoint (or fresh) the first time. */
  TenantState get(String tenant) {
    TenantState state = byTenant.get(tenant);
    if (state == null) {
      AdapterCheckpoint checkpoint = committed.tenants().get(tenant);
      state = checkpoint == null ? states.fresh(tenant) : states.restore(checkpoint, committed.weightsOf(tenant));
      byTenant.put(tenant, state);
      metrics.trainerTenants.set(byTenant.size());
    }
    return state;
  }

  /** The tenant's state when it is in memory, else null. */
  TenantState getIfLive(String tenant) {
    return byTenant.get(tenant);
  }

  /** {@code next} takes the place of {@code current} (same tenant), which is closed. */
  void replace(TenantState current, TenantState next) {
    if (!current.tenant.equals(next.tenant)) {
      throw new IllegalArgumentException("tenant " + next.tenant + " cannot replace " + current.tenant);
    }
    current.close();
    byTenant.put(next.tenant, next);
  }

  /**
   * Replaces the tenant's state by its last checkpoint (fresh when it has none), keeping what lives
   * beside the weights (holdout set, published versions, newest event time trained on).
   */
  TenantState backToLastCheckpoint(TenantState state) {
    // The kept versions' weights are in memory (and carried over below): no need to read them back.
    KeptVersionWeights inMemory =
        version -> state.recentVersion(version).map(v -> TenantStates.keptVersion(state.tenant, v));
    TenantState restored = state.lastCheckpoint == null ? states.fresh(state.tenant)
        : states.restore(state.lastCheckpoint, inMemory);
    restored.copyEvaluationStateFrom(state);
    restored.newestEventTime = state.newestEventTime;
    replace(state, restored);
    return restored;
  }

  /**
   * Later {@link #get}s of tenants not in memory restore them from {@code checkpoints}: what the
   * checkpoints topic holds now, read after a rewind or a change of assignment.
   */
  void useCommitted(CommittedCheckpoints checkpoints) {
    committed = checkpoints;
  }

  /** Forgets every tenant in memory; later {@link #get}s restore them from the same checkpoints. */
  void forgetAll() {
    byTenant.values().forEach(TenantState::close);
    byTenant.clear();
  }

  /** What the checkpoints topic held when last read. */
  CommittedCheckpoints committed() {
    return committed;
  }

  @Override
  public void close() {
    forgetAll();
  }
}
