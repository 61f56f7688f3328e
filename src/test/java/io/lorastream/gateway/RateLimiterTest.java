package io.lorastream.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class RateLimiterTest {
  private final AtomicLong nanos = new AtomicLong();
  private final RateLimiter limiter = new RateLimiter(2, 3, nanos::get);

  @Test
  void allowsABurstThenTheRate() {
    for (int i = 0; i < 3; i++) {
      assertThat(limiter.tryAcquire("acme")).isZero();
    }
    assertThat(limiter.tryAcquire("acme")).isEqualTo(1);
    nanos.addAndGet(500_000_000L); // half a second refills one request at 2/s
    assertThat(limiter.tryAcquire("acme")).isZero();
    assertThat(limiter.tryAcquire("acme")).isPositive();
  }

  @Test
  void tenantsHaveSeparateBuckets() {
    for (int i = 0; i < 3; i++) {
      limiter.tryAcquire("busy");
    }
    assertThat(limiter.tryAcquire("busy")).isPositive();
    assertThat(limiter.tryAcquire("quiet")).isZero();
  }
}
