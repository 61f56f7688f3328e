package io.lorastream.gateway;

import io.lorastream.avro.AdapterSnapshot;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The recent published versions of every tenant as this gateway saw them arrive, for the status
 * page: losses (for the sparkline), examples seen and freshness. Bounded per tenant, because the
 * adapters topic is compacted and the gateway keeps only a couple of versions' weights: this is the
 * only place the loss history of a running gateway survives.
 */
final class TenantHistory {
  /**
   * One applied snapshot.
   *
   * @param newestEventTime event time of the newest example the version trained on; null when unknown
   * @param loadedAt when this gateway first served the version (the end of its freshness)
   */
  record Point(long version, Instant createdAt, long examplesSeen, Float trainLoss, Float holdoutLoss,
      Float baseHoldoutLoss, Instant newestEventTime, Instant loadedAt) {

    /** Milliseconds from the newest trained example's event time to this gateway serving it; null when unknown. */
    Long freshnessMillis() {
      return newestEventTime == null ? null : loadedAt.toEpochMilli() - newestEventTime.toEpochMilli();
    }
  }

  private final int pointsPerTenant;
  private final Clock clock;
  // Guarded by this; per tenant: oldest first, at most pointsPerTenant.
  private final Map<String, Deque<Point>> points = new TreeMap<>();

  TenantHistory(int pointsPerTenant, Clock clock) {
    if (pointsPerTenant < 1) {
      throw new IllegalArgumentException("pointsPerTenant must be at least 1, got " + pointsPerTenant);
    }
    this.pointsPerTenant = pointsPerTenant;
    this.clock = clock;
  }

  /** Records a snapshot the store has just started serving. */
  synchronized void applied(AdapterSnapshot s) {
    Deque<Point> history = points.computeIfAbsent(s.getTenant(), t -> new ArrayDeque<>());
    history.addLast(new Point(s.getVersion(), s.getCreatedAt(), s.getExamplesSeen(), s.getTrainLoss(),
        s.getHoldoutLoss(), s.getBaseHoldoutLoss(), s.getNewestEventTime(), clock.instant()));
    while (history.size() > pointsPerTenant) {
      history.removeFirst();
    }
  }

  /** The tenant was removed from the adapters topic (a tombstone). */
  synchronized void removed(String tenant) {
    points.remove(tenant);
  }

  /** Every tenant's points, oldest first, tenants by name. */
  synchronized Map<String, List<Point>> snapshot() {
    Map<String, List<Point>> copy = new TreeMap<>();
    points.forEach((tenant, history) -> copy.put(tenant, List.copyOf(history)));
    return copy;
  }
}
