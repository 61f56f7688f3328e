package io.lorastream.gateway;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * A token bucket per tenant: {@code ratePerSecond} requests per second on average, bursts up to
 * {@code burst}. {@link #tryAcquire} answers at once; a refusal says how long to wait.
 */
public final class RateLimiter {
  private final double ratePerSecond;
  private final double burst;
  private final LongSupplier nanoClock;
  private final Map<String, Bucket> buckets = new ConcurrentHashMap<>();

  private static final class Bucket {
    double tokens;
    long lastNanos;

    Bucket(double tokens, long lastNanos) {
      this.tokens = tokens;
      this.lastNanos = lastNanos;
    }
  }

  public RateLimiter(double ratePerSecond, double burst, LongSupplier nanoClock) {
    if (!(ratePerSecond > 0) || burst < 1) {
      throw new IllegalArgumentException("rate must be > 0 and burst >= 1");
    }
    this.ratePerSecond = ratePerSecond;
    this.burst = burst;
    this.nanoClock = nanoClock;
  }

  public RateLimiter(double ratePerSecond, double burst) {
    this(ratePerSecond, burst, System::nanoTime);
  }

  /** 0 when a request of {@code tenant} may proceed now; otherwise the seconds to wait (at least 1). */
  public long tryAcquire(String tenant) {
    long now = nanoClock.getAsLong();
    Bucket bucket = buckets.computeIfAbsent(tenant, t -> new Bucket(burst, now));
    synchronized (bucket) {
      bucket.tokens = Math.min(burst, bucket.tokens + (now - bucket.lastNanos) / 1e9 * ratePerSecond);
      bucket.lastNanos = now;
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return 0;
      }
      return Math.max(1, (long) Math.ceil((1 - bucket.tokens) / ratePerSecond));
    }
  }
}
