package io.lorastream.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.lorastream.avro.AdapterSnapshot;
import java.nio.ByteBuffer;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The status page's per-tenant history: bounded, oldest first, freshness from event time to first serving. */
class TenantHistoryTest {
  static final Instant LOADED = Instant.parse("2026-11-28T12:00:00Z");

  static AdapterSnapshot snapshot(String tenant, long version, float trainLoss, Instant newestEvent) {
    return AdapterSnapshot.newBuilder().setTenant(tenant).setVersion(version).setParentVersion(null)
        .setBaseModelSha256("b").setRank(8).setAlpha(16).setTargetModules(List.of("q_proj")).setUseRslora(false)
        .setWeights(ByteBuffer.allocate(0)).setWeightsSha256("w").setTrainedThrough(List.of())
        .setExamplesSeen(version * 8).setTrainLoss(trainLoss).setNewestEventTime(newestEvent)
        .setCreatedAt(LOADED.minusSeconds(1)).build();
  }

  @Test
  void keepsTheNewestPointsPerTenantOldestFirst() {
    TenantHistory history = new TenantHistory(3, Clock.fixed(LOADED, ZoneOffset.UTC));
    for (long v = 1; v <= 5; v++) {
      history.applied(snapshot("acme", v, 3f - v * 0.1f, null));
    }
    history.applied(snapshot("globex", 1, 2f, null));
    List<TenantHistory.Point> acme = history.snapshot().get("acme");
    assertThat(acme).extracting(TenantHistory.Point::version).containsExactly(3L, 4L, 5L);
    assertThat(acme.get(2).trainLoss()).isEqualTo(2.5f);
    assertThat(history.snapshot().get("globex")).hasSize(1);

    history.removed("acme");
    assertThat(history.snapshot()).containsOnlyKeys("globex");
  }

  @Test
  void freshnessRunsFromNewestEventTimeToFirstServing() {
    TenantHistory history = new TenantHistory(2, Clock.fixed(LOADED, ZoneOffset.UTC));
    history.applied(snapshot("acme", 1, 2f, LOADED.minusMillis(4_250)));
    history.applied(snapshot("acme", 2, 2f, null));
    List<TenantHistory.Point> points = history.snapshot().get("acme");
    assertThat(points.get(0).freshnessMillis()).isEqualTo(4_250L);
    assertThat(points.get(0).loadedAt()).isEqualTo(LOADED);
    assertThat(points.get(1).freshnessMillis()).isNull();
    assertThatThrownBy(() -> new TenantHistory(0, Clock.systemUTC())).isInstanceOf(IllegalArgumentException.class);
  }
}
