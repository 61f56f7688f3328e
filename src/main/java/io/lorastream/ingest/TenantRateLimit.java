package io.lorastream.ingest;

import java.util.HashMap;
import java.util.Map;

/**
 * A token bucket per tenant over <em>record time</em>: {@code examplesPerSecond} on average, up to
 * {@code burst} at once. One instance per stream task (single threaded); a tenant's examples all
 * meet in its partition, so one task sees all of them.
 *
 * <p>Why record time: after an ingest outage the backlog is read far faster than it was produced;
 * measured in record timestamps it arrives at its original rate and passes, while a flood (many
 * examples with close timestamps) is cut to the rate. A timestamp later than the wall clock counts
 * as the wall clock, and a tenant's clock never goes back, so timestamps in the future buy no
 * tokens. Producers set record timestamps themselves; where producers are not trusted, give the
 * examples topic {@code message.timestamp.type=LogAppendTime} so the broker sets them.
 *
 * <p>Buckets that have refilled completely are dropped from time to time, so memory follows the
 * tenants active in the last {@code burst / examplesPerSecond} seconds, not every tenant id seen.
 */
final class TenantRateLimit {
  /** Acquisitions between sweeps of full buckets. */
  private static final int SWEEP_EVERY = 10_000;

  private final double tokensPerMs;
  private final double burst;
  private final Map<String, Bucket> buckets = new HashMap<>();
  private int sinceSweep;

  private static final class Bucket {
    double tokens;
    /** Record time (epoch ms) up to which tokens have been added. */
    long clockMs;

    Bucket(double tokens, long clockMs) {
      this.tokens = tokens;
      this.clockMs = clockMs;
    }
  }

  TenantRateLimit(double examplesPerSecond, int burst) {
    if (!(examplesPerSecond > 0) || burst < 1) {
      throw new IllegalArgumentException("rate must be > 0 and burst >= 1");
    }
    this.tokensPerMs = examplesPerSecond / 1000.0;
    this.burst = burst;
  }

  /**
   * True when {@code tenant} may send one more example stamped {@code recordTimeMs}, read when the
   * wall clock says {@code wallClockMs}; the example then uses one token.
   */
  boolean tryAcquire(String tenant, long recordTimeMs, long wallClockMs) {
    if (++sinceSweep >= SWEEP_EVERY) {
      sweep(wallClockMs);
    }
    long at = Math.min(recordTimeMs, wallClockMs);
    Bucket bucket = buckets.computeIfAbsent(tenant, t -> new Bucket(burst, at));
    if (at > bucket.clockMs) {
      bucket.tokens = Math.min(burst, bucket.tokens + (at - bucket.clockMs) * tokensPerMs);
      bucket.clockMs = at;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return true;
    }
    return false;
  }

  /** Tenants with a bucket; for tests of the sweep. */
  int trackedTenants() {
    return buckets.size();
  }

  /** Drops buckets that would be full by {@code wallClockMs}: a fresh bucket is the same. */
  private void sweep(long wallClockMs) {
    sinceSweep = 0;
    buckets.values().removeIf(b -> b.tokens + (wallClockMs - b.clockMs) * tokensPerMs >= burst);
  }
}
