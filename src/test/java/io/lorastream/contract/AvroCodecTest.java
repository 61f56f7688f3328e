package io.lorastream.contract;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.lorastream.avro.AdapterSnapshot;
import io.lorastream.avro.TrainingExample;
import io.lorastream.contract.CodecException.Reason;
import java.io.File;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.avro.specific.SpecificRecord;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;

class AvroCodecTest {
  private static final AvroCodec<TrainingExample> EXAMPLES = AvroCodec.TRAINING_EXAMPLE;

  /** TrainingExample as first published: no {@code metadata} field. */
  private static final Schema EXAMPLE_V0 =
      new Schema.Parser().parse("""
          {"type": "record", "name": "TrainingExample", "namespace": "io.lorastream.avro",
           "fields": [
             {"name": "id", "type": "string"},
             {"name": "tenant", "type": "string"},
             {"name": "prompt", "type": "string"},
             {"name": "completion", "type": "string"},
             {"name": "weight", "type": "float", "default": 1.0},
             {"name": "eventTime", "type": {"type": "long", "logicalType": "timestamp-millis"}}
           ]}""");

  /** A later TrainingExample with a field this reader does not know yet. */
  private static final Schema EXAMPLE_NEXT =
      new Schema.Parser().parse("""
          {"type": "record", "name": "TrainingExample", "namespace": "io.lorastream.avro",
           "fields": [
             {"name": "id", "type": "string"},
             {"name": "tenant", "type": "string"},
             {"name": "prompt", "type": "string"},
             {"name": "completion", "type": "string"},
             {"name": "weight", "type": "float", "default": 1.0},
             {"name": "eventTime", "type": {"type": "long", "logicalType": "timestamp-millis"}},
             {"name": "metadata", "type": {"type": "map", "values": "string"}, "default": {}},
             {"name": "language", "type": "string", "default": "en"}
           ]}""");

  @Test
  void roundTripsEveryRecordType() {
    assertRoundTrip(AvroCodec.TRAINING_EXAMPLE, SampleRecords.example("acme", "ex-1"));
    assertRoundTrip(AvroCodec.ADAPTER_SNAPSHOT, SampleRecords.snapshot("acme", 3, 1000, 1));
    assertRoundTrip(AvroCodec.ADAPTER_SNAPSHOT, SampleRecords.snapshot("acme", 1, 0, 1));
    assertRoundTrip(AvroCodec.ADAPTER_CHECKPOINT, SampleRecords.checkpoint("acme"));
    assertRoundTrip(AvroCodec.INFERENCE_REQUEST, SampleRecords.request("acme", "r-1"));
    assertRoundTrip(AvroCodec.INFERENCE_RESPONSE, SampleRecords.response("acme", "r-1"));
  }

  private static <T extends SpecificRecord> void assertRoundTrip(AvroCodec<T> codec, T record) {
    assertThat(codec.decode(codec.encode(record))).isEqualTo(record);
  }

  @Test
  void writesSingleObjectHeaderWithLittleEndianFingerprint() {
    byte[] bytes = EXAMPLES.encode(SampleRecords.example("acme", "ex-1"));

    assertThat(bytes[0]).isEqualTo((byte) 0xC3);
    assertThat(bytes[1]).isEqualTo((byte) 0x01);
    long fingerprint = ByteBuffer.wrap(bytes, 2, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    assertThat(fingerprint)
        .isEqualTo(SchemaNormalization.parsingFingerprint64(TrainingExample.getClassSchema()))
        .isEqualTo(EXAMPLES.fingerprint());
    // Avro's own encoder produces the same bytes.
    assertThat(bytes).isEqualTo(toArray(TrainingExample.getEncoder(), SampleRecords.example("acme", "ex-1")));
  }

  @Test
  void sameInstancePerClass() {
    assertThat(AvroCodec.of(TrainingExample.class)).isSameAs(AvroCodec.TRAINING_EXAMPLE);
    assertThat(AvroCodec.of(AdapterSnapshot.class)).isSameAs(AvroCodec.ADAPTER_SNAPSHOT);
  }

  @Test
  void rejectsNull() {
    assertRejected(() -> EXAMPLES.decode(null), Reason.NULL, "null: ");
  }

  @Test
  void rejectsEmptyBytes() {
    assertRejected(() -> EXAMPLES.decode(new byte[0]), Reason.EMPTY, "empty: ");
  }

  @Test
  void rejectsJsonAsBadMagicNamingTheBytesFound() {
    byte[] json = "{\"id\":\"1\"}".getBytes(StandardCharsets.UTF_8);
    CodecException e = catchCodec(() -> EXAMPLES.decode(json));
    assertThat(e.reason()).isEqualTo(Reason.BAD_MAGIC);
    assertThat(e.dlqReason()).isEqualTo("bad-magic: expected C3 01, got 7B 22");
  }

  @Test
  void rejectsSecondMagicByteAlone() {
    byte[] bytes = EXAMPLES.encode(SampleRecords.example("acme", "ex-1"));
    bytes[1] = 0x02;
    assertRejected(() -> EXAMPLES.decode(bytes), Reason.BAD_MAGIC, "bad-magic: expected C3 01, got C3 02");
  }

  @Test
  void rejectsHeaderCutShortAsTruncated() {
    byte[] bytes = EXAMPLES.encode(SampleRecords.example("acme", "ex-1"));
    assertRejected(() -> EXAMPLES.decode(Arrays.copyOf(bytes, 6)), Reason.TRUNCATED, "truncated: ");
    assertRejected(() -> EXAMPLES.decode(new byte[] {(byte) 0xC3}), Reason.TRUNCATED, "truncated: ");
  }

  @Test
  void rejectsBodyCutShortAsTruncated() {
    byte[] bytes = EXAMPLES.encode(SampleRecords.example("acme", "ex-1"));
    for (int cut : new int[] {1, 5, bytes.length - 11}) {
      byte[] shorter = Arrays.copyOf(bytes, bytes.length - cut);
      assertRejected(() -> EXAMPLES.decode(shorter), Reason.TRUNCATED, "truncated: ");
    }
  }

  @Test
  void rejectsTrailingBytesAsCorrupt() {
    byte[] bytes = EXAMPLES.encode(SampleRecords.example("acme", "ex-1"));
    byte[] longer = Arrays.copyOf(bytes, bytes.length + 3);
    assertRejected(() -> EXAMPLES.decode(longer), Reason.CORRUPT, "corrupt: ");
  }

  @Test
  void rejectsBitFlipThatMakesALengthNegativeAsCorrupt() {
    byte[] bytes = EXAMPLES.encode(SampleRecords.example("acme", "ex-1"));
    // The body starts with the zig-zag varint length of "ex-1" (4 → 0x08); its low bit is the sign.
    assertThat(bytes[10]).isEqualTo((byte) 0x08);
    bytes[10] ^= 0x01;
    assertRejected(() -> EXAMPLES.decode(bytes), Reason.CORRUPT, "corrupt: ");
  }

  @Test
  void rejectsBitFlipThatMakesALengthTooLongAsTruncated() {
    byte[] bytes = EXAMPLES.encode(SampleRecords.example("acme", "ex-1"));
    // The body ends with the metadata map {"source": "test"}: length of "test" (0x08), "test", 0.
    int valueLength = bytes.length - 6;
    assertThat(bytes[valueLength]).isEqualTo((byte) 0x08);
    bytes[valueLength] ^= 0x40; // length 4 → 36: runs past the end
    assertRejected(() -> EXAMPLES.decode(bytes), Reason.TRUNCATED, "truncated: ");
  }

  @Test
  void rejectsUnknownFingerprint() {
    byte[] bytes = EXAMPLES.encode(SampleRecords.example("acme", "ex-1"));
    bytes[5] ^= 0x10;
    CodecException e = catchCodec(() -> EXAMPLES.decode(bytes));
    assertThat(e.reason()).isEqualTo(Reason.UNKNOWN_SCHEMA);
    assertThat(e.dlqReason()).startsWith("unknown-schema: writer schema fingerprint ");
  }

  @Test
  void rejectsAnotherRecordTypeAsUnknownSchema() {
    byte[] snapshot = AvroCodec.ADAPTER_SNAPSHOT.encode(SampleRecords.snapshot("acme", 1, 8, 1));
    assertRejected(() -> EXAMPLES.decode(snapshot), Reason.UNKNOWN_SCHEMA, "unknown-schema: ");
  }

  @Test
  void readsOlderWriterSchemaOnceRegisteredFillingDefaults() {
    GenericRecord old = new GenericData.Record(EXAMPLE_V0);
    old.put("id", "old-1");
    old.put("tenant", "acme");
    old.put("prompt", "p");
    old.put("completion", "c");
    old.put("weight", 2.0f);
    old.put("eventTime", SampleRecords.T0.toEpochMilli());
    byte[] bytes = toArray(new BinaryMessageEncoder<>(GenericData.get(), EXAMPLE_V0), old);
    AvroCodec<TrainingExample> codec = AvroCodec.TRAINING_EXAMPLE;

    assertRejected(() -> codec.decode(bytes), Reason.UNKNOWN_SCHEMA, "unknown-schema: ");
    codec.addWriterSchema(EXAMPLE_V0);
    TrainingExample decoded = codec.decode(bytes);

    assertThat(decoded.getId()).isEqualTo("old-1");
    assertThat(decoded.getWeight()).isEqualTo(2.0f);
    assertThat(decoded.getEventTime()).isEqualTo(SampleRecords.T0);
    assertThat(decoded.getMetadata()).isEqualTo(Map.of());
  }

  @Test
  void readsNewerWriterSchemaOnceRegisteredIgnoringNewFields() {
    GenericRecord next = new GenericData.Record(EXAMPLE_NEXT);
    next.put("id", "new-1");
    next.put("tenant", "acme");
    next.put("prompt", "p");
    next.put("completion", "c");
    next.put("weight", 1.0f);
    next.put("eventTime", SampleRecords.T0.toEpochMilli());
    next.put("metadata", Map.of("k", "v"));
    next.put("language", "fr");
    byte[] bytes = toArray(new BinaryMessageEncoder<>(GenericData.get(), EXAMPLE_NEXT), next);

    AvroCodec.TRAINING_EXAMPLE.addWriterSchema(EXAMPLE_NEXT);
    TrainingExample decoded = AvroCodec.TRAINING_EXAMPLE.decode(bytes);

    assertThat(decoded.getId()).isEqualTo("new-1");
    assertThat(decoded.getMetadata()).containsEntry("k", "v");
  }

  @Test
  void refusesWriterSchemaItCannotRead() {
    Schema noPrompt =
        new Schema.Parser().parse("""
            {"type": "record", "name": "TrainingExample", "namespace": "io.lorastream.avro",
             "fields": [{"name": "id", "type": "string"}]}""");
    assertThatThrownBy(() -> AvroCodec.TRAINING_EXAMPLE.addWriterSchema(noPrompt))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("TrainingExample cannot read");
  }

  @Test
  void refusesToEncodeAnIncompleteRecord() {
    TrainingExample incomplete = SampleRecords.example("acme", "1");
    incomplete.setPrompt(null);
    assertThatThrownBy(() -> EXAMPLES.encode(incomplete))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("cannot encode TrainingExample");
  }

  @Test
  void decodesInAJvmWithoutTheAvroTrustFlag() throws Exception {
    String java = System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
    Process process =
        new ProcessBuilder(
                java, "-cp", System.getProperty("java.class.path"),
                DecodeWithoutTrustFlag.class.getName())
            .redirectErrorStream(true)
            .start();
    String output;
    try (var in = process.getInputStream()) {
      output = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(process.exitValue()).as(output).isZero();
  }

  private static <T> byte[] toArray(org.apache.avro.message.MessageEncoder<T> encoder, T datum) {
    try {
      ByteBuffer buffer = encoder.encode(datum);
      byte[] bytes = new byte[buffer.remaining()];
      buffer.get(bytes);
      return bytes;
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static CodecException catchCodec(ThrowingCallable call) {
    Throwable thrown = org.assertj.core.api.Assertions.catchThrowable(call);
    assertThat(thrown).isInstanceOf(CodecException.class);
    return (CodecException) thrown;
  }

  private static void assertRejected(ThrowingCallable call, Reason reason, String dlqPrefix) {
    CodecException e = catchCodec(call);
    assertThat(e.reason()).as(e.dlqReason()).isEqualTo(reason);
    assertThat(e.dlqReason()).startsWith(dlqPrefix).doesNotContain("\n");
    assertThat(e.getMessage()).isEqualTo(e.dlqReason());
  }
}
