package io.lorastream.ingest;

import io.lorastream.contract.Splits;
import io.lorastream.kafka.Topics;
import io.lorastream.metrics.Metrics;
import java.util.Map;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Branched;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;

/**
 * Ingest: raw examples in, clean examples and dead letters out.
 *
 * <pre>
 * examples.v1 (bytes) ─► ingest-check ─┬─ rejected ─► ingest-dead-letter ─► examples.dlq.v1
 *                                      └─ valid ─► ingest-dedupe ─► ingest-holdout-tag ─► examples.clean.v1
 * </pre>
 *
 * <ul>
 *   <li>Values are read as bytes so that a record that does not decode is routed, not fatal: a
 *       {@link io.lorastream.contract.CodecException} goes to the DLQ with its reason. A record
 *       without a key goes there too ({@code missing-key}), then every
 *       {@link io.lorastream.contract.ExampleRules} violation, an event time outside the configured
 *       bounds ({@code future-event-time}, {@code stale-event-time}), a removed tenant
 *       ({@code tenant-removed}) and examples over the tenant's rate ({@code rate-limited}).
 *   <li>Dead letters keep the original key and bytes, with the reason in
 *       {@link Topics#ERROR_HEADER}.
 *   <li>A (tenant, id) seen within the dedupe window is dropped ({@link DedupeProcessor}).
 *   <li>Every clean example carries {@code metadata["lorastream.split"]} ({@link Splits}), keeps
 *       its tenant key and is re-encoded with the current schema.
 * </ul>
 *
 * <p>Metrics ({@code lorastream_ingest_*}) count when a record is processed; a task that aborts
 * its transaction and reprocesses counts again, so they are at-least-once while the topics are
 * exactly once.
 */
public final class IngestTopology {
  private IngestTopology() {}

  public static void build(StreamsBuilder builder, Topics topics, IngestSettings settings, Metrics metrics) {
    // Raw bytes, not topics.examples().valueSerde(): a deserialization error must become a dead letter.
    KStream<String, byte[]> raw = builder.stream(topics.examples().name(),
        Consumed.with(topics.examples().keySerde(), Serdes.ByteArray()).withName("ingest-examples"));

    Map<String, KStream<String, Checked>> branches = raw
        .processValues(() -> new CheckProcessor(settings), Named.as("ingest-check"))
        .split(Named.as("ingest-"))
        .branch((key, checked) -> checked.isRejected(), Branched.as("rejected"))
        .defaultBranch(Branched.as("valid"));

    branches.get("ingest-rejected")
        .processValues(() -> new DeadLetterProcessor(metrics), Named.as("ingest-dead-letter"))
        .to(topics.dlq().name(),
            Produced.with(topics.dlq().keySerde(), topics.dlq().valueSerde()).withName("ingest-dlq"));

    double holdoutShare = settings.holdoutShare();
    branches.get("ingest-valid")
        .mapValues(Checked::example, Named.as("ingest-example"))
        .processValues(DedupeProcessor.supplier(settings.dedupeWindow(), metrics), Named.as("ingest-dedupe"))
        .mapValues(example -> Splits.tagged(example, holdoutShare), Named.as("ingest-holdout-tag"))
        .peek((key, example) -> metrics.ingestExamples.labelValues("accepted").inc(),
            Named.as("ingest-count-accepted"))
        .to(topics.cleanExamples().name(),
            Produced.with(topics.cleanExamples().keySerde(), topics.cleanExamples().valueSerde())
                .withName("ingest-clean"));
  }
}
