package io.lorastream.train;

import io.lorastream.model.TrainingPair;
import io.lorastream.model.pretrain.GeneralExchanges;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Rehearsal against forgetting: each tenant step also trains on a few general customer-service
 * exchanges ({@link GeneralExchanges#rehearsalPool}, disjoint from the canary set), so the
 * adapter is pulled back towards the base model's general answers while it learns the tenant's
 * facts. Which exchanges a step gets depends only on the tenant and its examples seen before the
 * step (both in its checkpoint), so a trainer that resumes from a checkpoint repeats the same steps.
 */
final class Rehearsal {
  /** Distinct exchanges to draw from; far more than a tenant's steps times {@code perBatch} at 200 examples. */
  static final int POOL_SIZE = 512;
  /** Fixed, so the pool is the same in every trainer process. */
  private static final long POOL_SEED = 20261128L;

  private final int perBatch;
  private final List<TrainingPair> pool;

  /** @param perBatch exchanges added to each step of a tenant; 0 adds none */
  Rehearsal(int perBatch) {
    if (perBatch < 0) {
      throw new IllegalArgumentException("rehearsal per batch must not be negative, got " + perBatch);
    }
    this.perBatch = perBatch;
    this.pool = perBatch == 0 ? List.of() : GeneralExchanges.rehearsalPool(POOL_SEED, POOL_SIZE);
  }

  /** The tenant's pairs followed by this step's {@code perBatch} rehearsal exchanges. */
  List<TrainingPair> mixInto(List<TrainingPair> tenantPairs, String tenant, long examplesSeenBefore) {
    if (perBatch == 0) {
      return tenantPairs;
    }
    List<TrainingPair> out = new ArrayList<>(tenantPairs.size() + perBatch);
    out.addAll(tenantPairs);
    int start = new SplittableRandom(tenant.hashCode() * 0x9E3779B97F4A7C15L + examplesSeenBefore).nextInt(pool.size());
    for (int i = 0; i < perBatch; i++) {
      out.add(pool.get((start + i) % pool.size()));
    }
    return out;
  }
}
