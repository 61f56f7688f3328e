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
 * Decodes a raw example and checks it: codec failures, a missing record key, then
 * {@link ExampleRules} (against the task's wall clock, so tests can move it).
 */
final class CheckProcessor implements FixedKeyProcessor<String, byte[], Checked> {
  /**
   * Reason code for a record without a key. Duplicates of an id meet in one partition only when
   * every record is keyed by its tenant, so ingest does not guess a key.
   */
  static final String MISSING_KEY = "missing-key";

  private FixedKeyProcessorContext<String, Checked> context;

  @Override
  public void init(FixedKeyProcessorContext<String, Checked> context) {
    this.context = context;
  }

  @Override
  public void process(FixedKeyRecord<String, byte[]> record) {
    context.forward(record.withValue(check(record.key(), record.value())));
  }

  private Checked check(String key, byte[] bytes) {
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
    Optional<String> violation =
        ExampleRules.violation(key, example, Instant.ofEpochMilli(context.currentSystemTimeMs()));
    return violation.map(v -> Checked.rejected(v, bytes)).orElseGet(() -> Checked.valid(example));
  }
}
