package io.lorastream.ingest;

import io.lorastream.avro.TrainingExample;
import io.lorastream.contract.AvroCodec;
import io.lorastream.contract.CodecException;
import io.lorastream.contract.ExampleRules;
import java.time.Instant;
import java.util.Optional;
import org.apache.kafka.streams.processor.api.FixedKeyProcessor;
import org.apache.kafka.streams.processor.api.FixedKeyProcessorContext;
import org.apache.kafka.streams.processor.api.FixedKeyRecord;

/**
 * Decodes a raw example and checks it, in this order: codec failures, a missing record key,
 * {@link ExampleRules} (against the task's wall clock, so tests can move it, with the configured
 * future skew), an event time older than the configured age, a removed tenant, and last the
 * tenant's rate limit, so that only acceptable examples use up a tenant's tokens.
 */
final class CheckProcessor implements FixedKeyProcessor<String, byte[], Checked> {
  /**
   * Reason code for a record without a key. Duplicates of an id meet in one partition only when
   * every record is keyed by its tenant, so ingest does not guess a key.
   */
  static final String MISSING_KEY = "missing-key";
  /** Reason code for an event time older than {@link IngestSettings#maxEventAge()}. */
  static final String STALE_EVENT_TIME = "stale-event-time";
  /** Reason code for an example of a tenant listed in {@link IngestSettings#removedTenants()}. */
  static final String TENANT_REMOVED = "tenant-removed";
  /** Reason code for an example beyond its tenant's rate ({@link TenantRateLimit}). */
  static final String RATE_LIMITED = "rate-limited";

  private final IngestSettings settings;
  private final TenantRateLimit rateLimit;
  private FixedKeyProcessorContext<String, Checked> context;

  CheckProcessor(IngestSettings settings) {
    this.settings = settings;
    this.rateLimit = new TenantRateLimit(settings.tenantExamplesPerSecond(), settings.tenantBurst());
  }

  @Override
  public void init(FixedKeyProcessorContext<String, Checked> context) {
    this.context = context;
  }

  @Override
  public void process(FixedKeyRecord<String, byte[]> record) {
    context.forward(record.withValue(check(record.key(), record.value(), record.timestamp())));
  }

  private Checked check(String key, byte[] bytes, long recordTimeMs) {
    TrainingExample example;
    try {
      example = AvroCodec.TRAINING_EXAMPLE.decode(bytes);
    } catch (CodecException e) {
      return Checked.rejected(e.dlqReason(), bytes);
    }
    if (key == null) {
      return Checked.rejected(MISSING_KEY + ": the record has no key; key each example by its tenant id ('"
          + example.getTenant() + "')", bytes);
    }
    long nowMs = context.currentSystemTimeMs();
    Instant now = Instant.ofEpochMilli(nowMs);
    Optional<String> violation = ExampleRules.violation(key, example, now, settings.maxFutureSkew())
        .or(() -> policyViolation(example, now));
    if (violation.isPresent()) {
      return Checked.rejected(violation.get(), bytes);
    }
    if (!rateLimit.tryAcquire(example.getTenant(), recordTimeMs, nowMs)) {
      return Checked.rejected(RATE_LIMITED + ": tenant '" + example.getTenant() + "' is over "
          + settings.tenantExamplesPerSecond() + " examples/s (burst " + settings.tenantBurst()
          + "); the original is kept here to be produced again", bytes);
    }
    return Checked.valid(example);
  }

  private Optional<String> policyViolation(TrainingExample example, Instant now) {
    Instant eventTime = example.getEventTime();
    if (eventTime != null && eventTime.isBefore(now.minus(settings.maxEventAge()))) {
      return Optional.of(STALE_EVENT_TIME + ": event time " + eventTime + " is more than "
          + settings.maxEventAge().toHours() + " h before now (" + now + ")");
    }
    if (settings.removedTenants().contains(example.getTenant())) {
      return Optional.of(TENANT_REMOVED + ": tenant '" + example.getTenant() + "' has been removed");
    }
    return Optional.empty();
  }
}
