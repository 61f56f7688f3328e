package io.lorastream.ingest;

import java.time.Duration;
import java.util.Objects;

/**
 * How ingest validates, deduplicates and splits examples.
 *
 * @param dedupeWindow a (tenant, id) seen again within this time of its first sighting (record
 *     timestamps) is dropped as a duplicate
 * @param holdoutShare the share of ids, in [0, 1], tagged {@code holdout} instead of {@code train}
 * @param applicationId the Kafka Streams application id: the consumer group, the prefix of the
 *     internal topics and the state directory name; instances with the same id share the work
 */
public record IngestSettings(Duration dedupeWindow, double holdoutShare, String applicationId) {
  public static final Duration DEFAULT_DEDUPE_WINDOW = Duration.ofDays(7);
  public static final double DEFAULT_HOLDOUT_SHARE = 0.10;
  public static final String DEFAULT_APPLICATION_ID = "lorastream-ingest";

  public IngestSettings {
    Objects.requireNonNull(dedupeWindow, "dedupeWindow");
    Objects.requireNonNull(applicationId, "applicationId");
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
  }

  /** A 7-day dedupe window, 10% holdout, application id {@value #DEFAULT_APPLICATION_ID}. */
  public static IngestSettings defaults() {
    return new IngestSettings(DEFAULT_DEDUPE_WINDOW, DEFAULT_HOLDOUT_SHARE, DEFAULT_APPLICATION_ID);
  }

  public IngestSettings withDedupeWindow(Duration window) {
    return new IngestSettings(window, holdoutShare, applicationId);
  }

  public IngestSettings withHoldoutShare(double share) {
    return new IngestSettings(dedupeWindow, share, applicationId);
  }

  public IngestSettings withApplicationId(String id) {
    return new IngestSettings(dedupeWindow, holdoutShare, id);
  }
}
