package io.lorastream.ingest;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class TenantRateLimitTest {
  private static final long NOW = 1_800_000_000_000L;

  @Test
  void burstThenRateInRecordTimeAndTenantsApart() {
    TenantRateLimit limit = new TenantRateLimit(2, 3);
    for (int i = 0; i < 3; i++) {
      assertThat(limit.tryAcquire("acme", NOW, NOW)).isTrue();
    }
    assertThat(limit.tryAcquire("acme", NOW, NOW)).isFalse();
    assertThat(limit.tryAcquire("globex", NOW, NOW)).as("another tenant has its own bucket").isTrue();
    // Half a second of record time at 2/s is one example; a backlog read later passes at that rate.
    assertThat(limit.tryAcquire("acme", NOW + 500, NOW + 60_000)).isTrue();
    assertThat(limit.tryAcquire("acme", NOW + 500, NOW + 60_000)).isFalse();
  }

  @Test
  void aTenantsClockNeverRunsBackOrAheadOfTheWallClock() {
    TenantRateLimit limit = new TenantRateLimit(1, 1);
    assertThat(limit.tryAcquire("acme", NOW, NOW)).isTrue();
    assertThat(limit.tryAcquire("acme", NOW + 3_600_000, NOW)).as("a future stamp buys nothing").isFalse();
    assertThat(limit.tryAcquire("acme", NOW - 3_600_000, NOW)).as("nor does an old one").isFalse();
  }

  @Test
  void bucketsOfQuietTenantsAreDropped() {
    TenantRateLimit limit = new TenantRateLimit(100, 10);
    for (int i = 0; i < 9_999; i++) {
      limit.tryAcquire("tenant-" + i, NOW, NOW);
    }
    assertThat(limit.trackedTenants()).isEqualTo(9_999);
    // One second later every bucket has refilled: the next sweep forgets them all but the newest.
    limit.tryAcquire("late", NOW + 1_000, NOW + 1_000);
    assertThat(limit.trackedTenants()).isEqualTo(1);
  }
}
