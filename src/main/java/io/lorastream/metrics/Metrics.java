package io.lorastream.metrics;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.ExpositionFormatWriter;
import io.prometheus.metrics.expositionformats.ExpositionFormats;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * The metrics of one lorastream process, in one Prometheus registry. Components receive this object
 * and register or update only their own metrics; {@link #scrape} renders the whole registry.
 */
public final class Metrics {
  private final PrometheusRegistry registry;
  private final ExpositionFormats formats = ExpositionFormats.init();

  // Ingest
  public final Counter ingestExamples;
  public final Counter ingestRejected;

  // Trainer
  public final Counter trainerExamples;
  public final Counter trainerSteps;
  public final Counter trainerTokens;
  public final Histogram trainerStepSeconds;
  public final Histogram trainerCommitSeconds;
  public final Histogram trainerCommitWaitSeconds;
  public final Histogram trainerGateSeconds;
  public final Counter snapshotsPublished;
  public final Gauge trainerTenants;
  public final Counter snapshotsGated;
  public final Counter trainerNonFiniteSteps;
  public final Counter trainerControls;
  public final Histogram trainerFusedBatchTenants;
  public final Gauge trainerConsumerLag;
  public final Gauge trainerLastCommit;

  // Gateway
  public final Counter gatewayRequests;
  public final Histogram gatewayRequestSeconds;
  public final Counter gatewayTokensGenerated;
  public final Gauge gatewayAdaptersResident;
  public final Gauge gatewayAdaptersServed;
  public final Gauge gatewayQueueDepth;
  public final Histogram gatewayBatchRows;
  public final Histogram gatewayEngineSeconds;
  public final Histogram gatewayTimeToFirstTokenSeconds;
  public final Counter gatewayColdLoads;
  public final Histogram gatewayColdLoadSeconds;
  public final Counter gatewaySnapshotsRejected;
  public final Counter gatewaySnapshotsApplied;

  private Metrics(PrometheusRegistry registry) {
    this.registry = registry;
    ingestExamples = Counter.builder().name("lorastream_ingest_examples_total")
        .help("Examples read by ingest, by outcome (accepted, rejected, duplicate)").labelNames("outcome")
        .register(registry);
    ingestRejected = Counter.builder().name("lorastream_ingest_rejected_total")
        .help("Examples ingest sent to the dead letter topic, by reason code").labelNames("reason")
        .register(registry);

    trainerExamples = Counter.builder().name("lorastream_trainer_examples_total")
        .help("Examples consumed by the trainer, by outcome").labelNames("outcome").register(registry);
    trainerSteps = Counter.builder().name("lorastream_trainer_steps_total")
        .help("Optimizer steps taken").register(registry);
    trainerTokens = Counter.builder().name("lorastream_trainer_tokens_total")
        .help("Tokens processed by training steps (padding excluded)").register(registry);
    trainerStepSeconds = Histogram.builder().name("lorastream_trainer_step_seconds")
        .help("Duration of one training step (forward, backward, optimizer), fused over the tenants it trains").register(registry);
    trainerGateSeconds = Histogram.builder().name("lorastream_trainer_gate_seconds")
        .help("Time to evaluate one publish candidate against the quality gate (its holdout and canary forward "
            + "passes), on the train thread that ran its step").register(registry);
    trainerCommitSeconds = Histogram.builder().name("lorastream_trainer_commit_seconds")
        .help("Time to commit a cycle's transaction (its offsets, then the commit, which waits until the broker "
            + "has every record of the cycle), on the commit thread while the next cycle's steps run")
        .register(registry);
    trainerCommitWaitSeconds = Histogram.builder().name("lorastream_trainer_commit_wait_seconds")
        .help("Time the trainer thread waited for the previous cycle's commit before it could send the next "
            + "cycle's records: the part of the commit the next cycle's steps did not hide").register(registry);
    snapshotsPublished = Counter.builder().name("lorastream_trainer_snapshots_published_total")
        .help("Adapter snapshots published").register(registry);
    trainerTenants = Gauge.builder().name("lorastream_trainer_tenants")
        .help("Tenants with training state in this trainer").register(registry);
    snapshotsGated = Counter.builder().name("lorastream_trainer_snapshots_gated_total")
        .help("Publish candidates withheld by the quality gate, by reason (holdout, canary)").labelNames("reason")
        .register(registry);
    trainerNonFiniteSteps = Counter.builder().name("lorastream_trainer_nonfinite_steps_total")
        .help("Steps whose loss was NaN or infinite: the tenant returned to its checkpoint, the batch went to the DLQ")
        .register(registry);
    trainerControls = Counter.builder().name("lorastream_trainer_controls_total")
        .help("Adapter control records (rollback, import) handled, by action and outcome").labelNames("action", "outcome")
        .register(registry);
    trainerFusedBatchTenants = Histogram.builder().name("lorastream_trainer_fused_batch_tenants")
        .help("Tenants trained together in one fused step (one forward and backward pass)")
        .classicUpperBounds(1, 2, 4, 8, 16, 32, 64).register(registry);
    trainerConsumerLag = Gauge.builder().name("lorastream_trainer_consumer_lag_records")
        .help("Records of the trainer's input partitions past its commit point: read but not yet trained, or not yet read")
        .register(registry);
    trainerLastCommit = Gauge.builder().name("lorastream_trainer_last_commit_timestamp_seconds")
        .help("When the trainer last committed a transaction (Unix time, seconds); a stuck trainer stops moving it")
        .register(registry);

    gatewayRequests = Counter.builder().name("lorastream_gateway_requests_total")
        .help("HTTP requests by route and status").labelNames("route", "status").register(registry);
    gatewayRequestSeconds = Histogram.builder().name("lorastream_gateway_request_seconds")
        .help("HTTP request latency by route").labelNames("route").register(registry);
    gatewayTokensGenerated = Counter.builder().name("lorastream_gateway_tokens_generated_total")
        .help("Completion tokens generated").register(registry);
    gatewayAdaptersResident = Gauge.builder().name("lorastream_gateway_adapters_resident")
        .help("Adapters held in memory by the gateway").register(registry);
    gatewayAdaptersServed = Gauge.builder().name("lorastream_gateway_adapters_served")
        .help("Tenants with a served adapter (in memory or on local disk)").register(registry);
    gatewayQueueDepth = Gauge.builder().name("lorastream_gateway_queue_depth")
        .help("Requests waiting to join the decode batch").register(registry);
    gatewayBatchRows = Histogram.builder().name("lorastream_gateway_batch_rows")
        .help("Rows (requests) decoded together in one step")
        .classicUpperBounds(1, 2, 4, 8, 16, 32, 64, 128).register(registry);
    gatewayEngineSeconds = Histogram.builder().name("lorastream_gateway_engine_seconds")
        .help("Time of the model thread's work items: phase=prefill (the prompts admitted together) or "
            + "phase=decode (one step of every running row)")
        .labelNames("phase").classicUpperBounds(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
        .register(registry);
    gatewayTimeToFirstTokenSeconds = Histogram.builder().name("lorastream_gateway_time_to_first_token_seconds")
        .help("From a streamed request's arrival to its first token").register(registry);
    gatewayColdLoads = Counter.builder().name("lorastream_gateway_cold_loads_total")
        .help("Adapters loaded from local disk because they were not in memory").register(registry);
    gatewayColdLoadSeconds = Histogram.builder().name("lorastream_gateway_cold_load_seconds")
        .help("Time to load an adapter from local disk").register(registry);
    gatewaySnapshotsRejected = Counter.builder().name("lorastream_gateway_snapshots_rejected_total")
        .help("Adapter snapshots refused, by reason").labelNames("reason").register(registry);
    gatewaySnapshotsApplied = Counter.builder().name("lorastream_gateway_snapshots_applied_total")
        .help("Adapter snapshots loaded and served").register(registry);
  }

  /** A fresh registry with the JVM metrics and every lorastream metric registered. */
  public static Metrics create() {
    PrometheusRegistry registry = new PrometheusRegistry();
    JvmMetrics.builder().register(registry);
    return new Metrics(registry);
  }

  public PrometheusRegistry registry() {
    return registry;
  }

  /** The registry rendered for a scraper that sent this Accept header (may be null). */
  public Scrape scrape(String acceptHeader) {
    ExpositionFormatWriter writer = formats.findWriter(acceptHeader);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try {
      writer.write(out, registry.scrape());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return new Scrape(writer.getContentType(), out.toByteArray());
  }

  /** A rendered scrape: its content type and body. */
  public record Scrape(String contentType, byte[] body) {}
}
