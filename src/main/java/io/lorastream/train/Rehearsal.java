package io.lorastream.train;

import io.lorastream.model.TrainingPair;
import io.lorastream.model.pretrain.GeneralExchanges;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Rehearsal against forgetting: each tenant step also trains on general customer-service exchanges
 * ({@link GeneralExchanges#rehearsalPool}, disjoint from the canary set), so the adapter is pulled
 * back towards the base model's general answers while it learns the tenant's facts. Their number is
 * a share of the step's tenant examples ({@link #rowsFor}): a 1-example step, the usual one when
 * examples arrive one at a time and are trained at once, gets few rows, not a full batch's worth.
 * Which exchanges a step gets depends only on the tenant and its examples seen before the step
 * (both in its checkpoint), so a trainer that resumes from a checkpoint repeats the same steps.
 */
final class Rehearsal {
  /** Distinct exchanges to draw from; far more than a tenant's rehearsal rows at 200 examples. */
  static final int POOL_SIZE = 512;
  /** Fixed, so the pool is the same in every trainer process. */
  private static final long POOL_SEED = 20261128L;
  /** Slack for ratios with no exact binary form (0.3 × 10 is 3.0000000000000004, not 4 rows). */
  private static final double ROUNDING_SLACK = 1e-9;

  private final double ratio;
  private final List<TrainingPair> pool;

  /** @param ratio exchanges per tenant example of a step, rounded up per step; 0 adds none */
  Rehearsal(double ratio) {
    if (!(ratio >= 0) || Double.isInfinite(ratio)) {
      throw new IllegalArgumentException("rehearsal ratio must be a finite number of at least 0, got " + ratio);
    }
    this.ratio = ratio;
    this.pool = ratio == 0 ? List.of() : GeneralExchanges.rehearsalPool(POOL_SEED, POOL_SIZE);
  }

  /** Rehearsal rows of a step on {@code examples} tenant examples: ceil(ratio × examples). */
  int rowsFor(int examples) {
    return (int) Math.ceil(ratio * examples - ROUNDING_SLACK);
  }

  /** The tenant's pairs followed by this step's {@link #rowsFor} rehearsal exchanges. */
  List<TrainingPair> mixInto(List<TrainingPair> tenantPairs, String tenant, long examplesSeenBefore) {
    int rows = rowsFor(tenantPairs.size());
    if (rows == 0) {
      return tenantPairs;
    }
    List<TrainingPair> out = new ArrayList<>(tenantPairs.size() + rows);
    out.addAll(tenantPairs);
    int start = new SplittableRandom(tenant.hashCode() * 0x9E3779B97F4A7C15L + examplesSeenBefore).nextInt(pool.size());
    for (int i = 0; i < rows; i++) {
      out.add(pool.get((start + i) % pool.size()));
    }
    return out;
  }
}
