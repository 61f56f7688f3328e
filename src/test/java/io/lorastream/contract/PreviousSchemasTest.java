package io.lorastream.contract;

import static org.assertj.core.api.Assertions.assertThat;

import io.lorastream.avro.AdapterCheckpoint;
import io.lorastream.avro.AdapterSnapshot;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.List;
import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.junit.jupiter.api.Test;

/** Records written with an earlier schema version (already on compacted topics) stay readable. */
class PreviousSchemasTest {
  @Test
  void everySavedVersionDiffersFromTheCurrentOneAndIsRegistered() {
    for (Class<?> type : List.of(AdapterSnapshot.class, AdapterCheckpoint.class)) {
      List<Schema> previous = PreviousSchemas.of(type);
      assertThat(previous).as(type.getSimpleName()).isNotEmpty();
      long current = AvroCodec.of(type.asSubclass(org.apache.avro.specific.SpecificRecord.class)).fingerprint();
      assertThat(previous).extracting(SchemaNormalization::parsingFingerprint64).doesNotContain(current);
    }
  }

  @Test
  void snapshotWrittenBeforeLayersToTransformExistedDecodesWithEveryLayer() throws Exception {
    Schema v1 = PreviousSchemas.of(AdapterSnapshot.class).get(0);
    assertThat(v1.getField("layersToTransform")).isNull();
    GenericRecord old = new GenericData.Record(v1);
    old.put("tenant", "acme");
    old.put("version", 3L);
    old.put("baseModelSha256", "ab");
    old.put("rank", 8);
    old.put("alpha", 16f);
    old.put("targetModules", List.of("q_proj", "v_proj"));
    old.put("useRslora", false);
    old.put("weights", ByteBuffer.wrap(new byte[] {1, 2, 3}));
    old.put("weightsSha256", "cd");
    old.put("trainedThrough", List.of());
    old.put("examplesSeen", 12L);
    old.put("createdAt", 1_700_000_000_000L);

    AdapterSnapshot decoded = AvroCodec.ADAPTER_SNAPSHOT.decode(singleObject(v1, old));

    assertThat(decoded.getTenant()).isEqualTo("acme");
    assertThat(decoded.getVersion()).isEqualTo(3L);
    assertThat(decoded.getExamplesSeen()).isEqualTo(12L);
    assertThat(decoded.getLayersToTransform()).isNull();
  }

  @Test
  void checkpointWrittenWithItsVersionsWeightsInsideKeepsThemAndNamesNoKeptVersionRecord() throws Exception {
    Schema v3 = PreviousSchemas.of(AdapterCheckpoint.class).get(2);
    assertThat(v3.getField("keptVersions")).isNull();
    GenericRecord old = new GenericData.Record(v3);
    old.put("tenant", "acme");
    old.put("step", 4L);
    old.put("baseModelSha256", "ab");
    old.put("rank", 8);
    old.put("alpha", 16f);
    old.put("targetModules", List.of("q_proj", "v_proj"));
    old.put("useRslora", false);
    old.put("layersToTransform", null);
    old.put("weights", ByteBuffer.wrap(new byte[] {1, 2, 3}));
    old.put("optimizerState", ByteBuffer.wrap(new byte[] {4}));
    old.put("rngState", 5L);
    old.put("trainedThrough", List.of());
    old.put("examplesSeen", 12L);
    old.put("publishedVersion", 2L);
    old.put("holdout", List.of());
    old.put("publishedAt", null);
    old.put("stepsSincePublish", 0);
    Schema versionSchema = v3.getField("recentVersions").schema().getElementType();
    GenericRecord version = new GenericData.Record(versionSchema);
    version.put("version", 2L);
    version.put("weights", ByteBuffer.wrap(new byte[] {7, 8, 9}));
    version.put("weightsSha256", "ef");
    version.put("examplesSeen", 12L);
    version.put("createdAt", 1_700_000_000_000L);
    old.put("recentVersions", List.of(version));
    old.put("createdAt", 1_700_000_000_000L);

    AdapterCheckpoint decoded = AvroCodec.ADAPTER_CHECKPOINT.decode(singleObject(v3, old));

    assertThat(decoded.getPublishedVersion()).isEqualTo(2L);
    assertThat(decoded.getRecentVersions()).hasSize(1);
    assertThat(Bytes.of(decoded.getRecentVersions().get(0).getWeights())).containsExactly(7, 8, 9);
    assertThat(decoded.getKeptVersions()).isEmpty();
  }

  @Test
  void checkpointWrittenBeforeWeightsVersionCarriesItsOwnWeights() throws Exception {
    Schema v4 = PreviousSchemas.of(AdapterCheckpoint.class).get(3);
    assertThat(v4.getField("weightsVersion")).isNull();
    AdapterCheckpoint current = SampleRecords.checkpoint("acme");
    // The v4 fields are the current ones less the last, so the record writes itself under v4.
    AdapterCheckpoint decoded = AvroCodec.ADAPTER_CHECKPOINT.decode(singleObject(v4, current,
        new org.apache.avro.specific.SpecificDatumWriter<>(v4,
            org.apache.avro.specific.SpecificData.getForClass(AdapterCheckpoint.class))));
    assertThat(decoded.getWeightsVersion()).isNull();
    assertThat(decoded.getWeights()).isEqualTo(current.getWeights());
  }

  /** Single-object encoding (magic C3 01, fingerprint little-endian, body) under {@code schema}. */
  private static byte[] singleObject(Schema schema, GenericRecord record) throws Exception {
    return singleObject(schema, record, new GenericDatumWriter<>(schema));
  }

  private static <T> byte[] singleObject(Schema schema, T record, org.apache.avro.io.DatumWriter<T> writer)
      throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(0xC3);
    out.write(0x01);
    long fp = SchemaNormalization.parsingFingerprint64(schema);
    for (int i = 0; i < 8; i++) {
      out.write((int) (fp >>> (8 * i)));
    }
    BinaryEncoder encoder = EncoderFactory.get().directBinaryEncoder(out, null);
    writer.write(record, encoder);
    encoder.flush();
    return out.toByteArray();
  }
}
