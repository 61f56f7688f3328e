package io.lorastream.ingest;

import io.lorastream.contract.ExampleRules;
import io.lorastream.contract.TenantId;
import java.time.Duration;
import java.util.Objects;
import java.util.Set;

/**
 * How ingest validates, deduplicates, limits and splits examples.
 *
 * @param dedupeWindow a (tenant, id) seen again within this time of its first sighting (record
 *     timestamps) is dropped as a duplicate
 * @param holdoutShare the share of ids, in [0, 1], tagged {@code holdout} instead of {@code train}
 * @param applicationId the Kafka Streams application id: the consumer group, the prefix of the
 *     internal topics and the state directory name; instances with the same id share the work
 * @param maxFutureSkew an event time later than the wall clock plus this is refused
 *     ({@code future-event-time}): a producer clock or unit error
 * @param maxEventAge an event time earlier than the wall clock minus this is refused
 *     ({@code stale-event-time}): replayed or fabricated history is not trained on
 * @param removedTenants tenants whose examples are refused ({@code tenant-removed}): a tenant that
 *     left keeps no training going, whatever its producers still send
 * @param tenantExamplesPerSecond each tenant's sustained example rate; examples beyond it go to the
 *     DLQ ({@code rate-limited}), see {@link TenantRateLimit}
 * @param tenantBurst examples a tenant may send at once before the rate applies
 */
public record IngestSettings(Duration dedupeWindow, double holdoutShare, String applicationId,
    Duration maxFutureSkew, Duration maxEventAge, Set<String> removedTenants, double tenantExamplesPerSecond,
    int tenantBurst) {
  public static final Duration DEFAULT_DEDUPE_WINDOW = Duration.ofDays(7);
  public static final double DEFAULT_HOLDOUT_SHARE = 0.10;
  public static final String DEFAULT_APPLICATION_ID = "lorastream-ingest";
  public static final Duration DEFAULT_MAX_FUTURE_SKEW = ExampleRules.MAX_FUTURE_SKEW;
  public static final Duration DEFAULT_MAX_EVENT_AGE = Duration.ofDays(30);
  /** 100 examples/s per tenant sustained, 10,000 at once: far above a support desk, far below a flood. */
  public static final double DEFAULT_TENANT_EXAMPLES_PER_SECOND = 100;
  public static final int DEFAULT_TENANT_BURST = 10_000;

  public IngestSettings {
    Objects.requireNonNull(dedupeWindow, "dedupeWindow");
    Objects.requireNonNull(applicationId, "applicationId");
    Objects.requireNonNull(maxFutureSkew, "maxFutureSkew");
    Objects.requireNonNull(maxEventAge, "maxEventAge");
    removedTenants = Set.copyOf(Objects.requireNonNull(removedTenants, "removedTenants"));
    if (dedupeWindow.isNegative() || dedupeWindow.isZero()) {
      throw new IllegalArgumentException("dedupe window must be positive, got " + dedupeWindow);
    }
    if (dedupeWindow.compareTo(Duration.ofDays(365)) > 0) {
      throw new IllegalArgumentException("dedupe window must be at most 365 days, got " + dedupeWindow);
    }
    if (!(holdoutShare >= 0.0 && holdoutShare <= 1.0)) {
      throw new IllegalArgumentException("holdout share must be in [0, 1], got " + holdoutShare);
    }
    if (!applicationId.matches("[a-zA-Z0-9._-]{1,200}")) {
      throw new IllegalArgumentException(
          "invalid application id \"" + applicationId + "\": use 1 to 200 letters, digits, '.', '_' and '-'");
    }
    if (maxFutureSkew.isNegative()) {
      throw new IllegalArgumentException("max future skew must not be negative, got " + maxFutureSkew);
    }
    if (maxEventAge.isNegative() || maxEventAge.isZero()) {
      throw new IllegalArgumentException("max event age must be positive, got " + maxEventAge);
    }
    removedTenants.forEach(TenantId::require);
    if (!(tenantExamplesPerSecond > 0) || Double.isInfinite(tenantExamplesPerSecond) || tenantBurst < 1) {
      throw new IllegalArgumentException("the per-tenant example rate must be a positive number and the burst at "
          + "least 1, got " + tenantExamplesPerSecond + "/s and " + tenantBurst);
    }
  }

  /** Settings of the first three kinds; event-time bounds, removals and rate limit at their defaults. */
  public IngestSettings(Duration dedupeWindow, double holdoutShare, String applicationId) {
    this(dedupeWindow, holdoutShare, applicationId, DEFAULT_MAX_FUTURE_SKEW, DEFAULT_MAX_EVENT_AGE, Set.of(),
        DEFAULT_TENANT_EXAMPLES_PER_SECOND, DEFAULT_TENANT_BURST);
  }

  /**
   * A 7-day dedupe window, 10% holdout, application id {@value #DEFAULT_APPLICATION_ID}, event times
   * from 30 days ago to 1 day ahead, no removed tenants, 100 examples/s per tenant with bursts of 10,000.
   */
  public static IngestSettings defaults() {
    return new IngestSettings(DEFAULT_DEDUPE_WINDOW, DEFAULT_HOLDOUT_SHARE, DEFAULT_APPLICATION_ID);
  }

  public IngestSettings withDedupeWindow(Duration window) {
    return new IngestSettings(window, holdoutShare, applicationId, maxFutureSkew, maxEventAge, removedTenants,
        tenantExamplesPerSecond, tenantBurst);
  }

  public IngestSettings withHoldoutShare(double share) {
    return new IngestSettings(dedupeWindow, share, applicationId, maxFutureSkew, maxEventAge, removedTenants,
        tenantExamplesPerSecond, tenantBurst);
  }

  public IngestSettings withApplicationId(String id) {
    return new IngestSettings(dedupeWindow, holdoutShare, id, maxFutureSkew, maxEventAge, removedTenants,
        tenantExamplesPerSecond, tenantBurst);
  }

  public IngestSettings withEventTimeBounds(Duration futureSkew, Duration eventAge) {
    return new IngestSettings(dedupeWindow, holdoutShare, applicationId, futureSkew, eventAge, removedTenants,
        tenantExamplesPerSecond, tenantBurst);
  }

  public IngestSettings withRemovedTenants(Set<String> tenants) {
    return new IngestSettings(dedupeWindow, holdoutShare, applicationId, maxFutureSkew, maxEventAge, tenants,
        tenantExamplesPerSecond, tenantBurst);
  }

  public IngestSettings withTenantRate(double examplesPerSecond, int burst) {
    return new IngestSettings(dedupeWindow, holdoutShare, applicationId, maxFutureSkew, maxEventAge, removedTenants,
        examplesPerSecond, burst);
  }
}
