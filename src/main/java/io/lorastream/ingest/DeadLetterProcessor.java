package io.lorastream.ingest;

import io.lorastream.contract.ExampleRules;
import io.lorastream.kafka.Topics;
import io.lorastream.metrics.Metrics;
import java.nio.charset.StandardCharsets;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.streams.processor.api.FixedKeyProcessor;
import org.apache.kafka.streams.processor.api.FixedKeyProcessorContext;
import org.apache.kafka.streams.processor.api.FixedKeyRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns a rejection into its dead letter: the original key and bytes, the producer's headers, and
 * {@link Topics#ERROR_HEADER} set to the reason line. Counts it by reason code.
 */
final class DeadLetterProcessor implements FixedKeyProcessor<String, Checked, byte[]> {
  private static final Logger log = LoggerFactory.getLogger(DeadLetterProcessor.class);

  private final Metrics metrics;
  private FixedKeyProcessorContext<String, byte[]> context;

  DeadLetterProcessor(Metrics metrics) {
    this.metrics = metrics;
  }

  @Override
  public void init(FixedKeyProcessorContext<String, byte[]> context) {
    this.context = context;
  }

  @Override
  public void process(FixedKeyRecord<String, Checked> record) {
    String reason = record.value().rejection();
    // A copy: the input record's headers object is shared with other branches of the topology.
    Headers headers = new RecordHeaders(record.headers().toArray());
    headers.remove(Topics.ERROR_HEADER);
    headers.add(Topics.ERROR_HEADER, reason.getBytes(StandardCharsets.UTF_8));
    metrics.ingestExamples.labelValues("rejected").inc();
    metrics.ingestRejected.labelValues(ExampleRules.code(reason)).inc();
    context.recordMetadata().ifPresent(m ->
        log.warn("example at {}-{}@{} sent to the DLQ: {}", m.topic(), m.partition(), m.offset(), reason));
    context.forward(record.withValue(record.value().original()).withHeaders(headers));
  }
}
