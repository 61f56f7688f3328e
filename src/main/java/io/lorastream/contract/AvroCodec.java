package io.lorastream.contract;

import io.lorastream.avro.AdapterCheckpoint;
import io.lorastream.avro.AdapterSnapshot;
import io.lorastream.avro.InferenceRequest;
import io.lorastream.avro.InferenceResponse;
import io.lorastream.avro.KeptVersion;
import io.lorastream.avro.TrainingExample;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DatumReader;
import org.apache.avro.io.DatumWriter;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.message.SchemaStore;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificDatumWriter;
import org.apache.avro.specific.SpecificRecord;
import org.apache.avro.util.ClassSecurityValidator;

/**
 * Encodes and decodes one record type in Avro single-object encoding: {@code C3 01}, the writer
 * schema's CRC-64-AVRO fingerprint (8 bytes, little endian), then the binary body.
 *
 * <p>Each codec knows its class's current schema and any older or newer writer schemas added with
 * {@link #addWriterSchema}; data written with one of those is resolved to the current class
 * (fields missing in the writer take their defaults). Decoding never returns null: every failure
 * is a {@link CodecException} with a {@link CodecException.Reason}. Instances are thread safe.
 */
public final class AvroCodec<T extends SpecificRecord> {
  /** Package of the classes generated from {@code schemas/*.avsc}. */
  public static final String AVRO_PACKAGE = "io.lorastream.avro";

  static final int HEADER_LENGTH = 10;
  private static final byte MAGIC_0 = (byte) 0xC3;
  private static final byte MAGIC_1 = (byte) 0x01;

  static {
    trustGeneratedClasses();
  }

  private static final Map<Class<?>, AvroCodec<?>> BY_CLASS = new ConcurrentHashMap<>();

  public static final AvroCodec<TrainingExample> TRAINING_EXAMPLE = of(TrainingExample.class);
  public static final AvroCodec<AdapterSnapshot> ADAPTER_SNAPSHOT = of(AdapterSnapshot.class);
  public static final AvroCodec<AdapterCheckpoint> ADAPTER_CHECKPOINT = of(AdapterCheckpoint.class);
  public static final AvroCodec<KeptVersion> KEPT_VERSION = of(KeptVersion.class);
  public static final AvroCodec<InferenceRequest> INFERENCE_REQUEST = of(InferenceRequest.class);
  public static final AvroCodec<InferenceResponse> INFERENCE_RESPONSE = of(InferenceResponse.class);

  private final Class<T> type;
  private final SpecificData model;
  private final Schema schema;
  private final long fingerprint;
  private final DatumWriter<T> writer;
  private final SchemaStore.Cache writerSchemas = new SchemaStore.Cache();
  private final Map<Long, DatumReader<T>> readers = new ConcurrentHashMap<>();

  private AvroCodec(Class<T> type) {
    this.type = type;
    this.model = SpecificData.getForClass(type);
    this.schema = model.getSchema(type);
    this.fingerprint = SchemaNormalization.parsingFingerprint64(schema);
    this.writer = new SpecificDatumWriter<>(schema, model);
    writerSchemas.addSchema(schema);
    for (Schema older : PreviousSchemas.of(type)) {
      addWriterSchema(older);
    }
  }

  /** The codec of a generated record class; one shared instance per class. */
  @SuppressWarnings("unchecked")
  public static <T extends SpecificRecord> AvroCodec<T> of(Class<T> type) {
    Objects.requireNonNull(type, "type");
    return (AvroCodec<T>) BY_CLASS.computeIfAbsent(type, t -> new AvroCodec<>(type));
  }

  public Class<T> type() {
    return type;
  }

  /** The reader (current) schema. */
  public Schema schema() {
    return schema;
  }

  /** CRC-64-AVRO fingerprint of the current schema, as written in every header. */
  public long fingerprint() {
    return fingerprint;
  }

  /**
   * Lets this codec read data written with {@code writerSchema} (an older or newer version of the
   * same record). Throws IllegalArgumentException when the current schema cannot read it.
   */
  public AvroCodec<T> addWriterSchema(Schema writerSchema) {
    Objects.requireNonNull(writerSchema, "writerSchema");
    SchemaCompatibility.SchemaPairCompatibility compatibility =
        SchemaCompatibility.checkReaderWriterCompatibility(schema, writerSchema);
    if (compatibility.getType() != SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE) {
      throw new IllegalArgumentException(
          type.getSimpleName() + " cannot read data written with schema "
              + writerSchema.getFullName() + ": " + compatibility.getDescription());
    }
    writerSchemas.addSchema(writerSchema);
    return this;
  }

  /** Single-object encoding of {@code record}. */
  public byte[] encode(T record) {
    if (record == null) {
      throw new IllegalArgumentException("cannot encode a null " + type.getSimpleName());
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream(sizeHint(record));
    out.write(MAGIC_0);
    out.write(MAGIC_1);
    long fp = fingerprint;
    for (int i = 0; i < 8; i++) {
      out.write((int) (fp >>> (8 * i)));
    }
    try {
      BinaryEncoder encoder = EncoderFactory.get().directBinaryEncoder(out, null);
      writer.write(record, encoder);
      encoder.flush();
    } catch (IOException | RuntimeException e) {
      throw new IllegalArgumentException(
          "cannot encode " + type.getSimpleName() + ": " + e.getMessage(), e);
    }
    return out.toByteArray();
  }

  /**
   * Room for the encoded record: 256 bytes plus its top-level bytes fields (adapter weights and
   * optimizer state, megabytes on every training step), so the buffer does not grow by doubling.
   */
  private static int sizeHint(SpecificRecord record) {
    long size = 256;
    for (int i = 0; i < record.getSchema().getFields().size(); i++) {
      if (record.get(i) instanceof java.nio.ByteBuffer bytes) {
        size += bytes.remaining() + 5; // + its length, a varint
      }
    }
    return (int) Math.min(size, Integer.MAX_VALUE - 8);
  }

  /** Decodes single-object encoded bytes; never returns null. */
  public T decode(byte[] bytes) {
    if (bytes == null) {
      throw new CodecException(CodecException.Reason.NULL, "no bytes (null) for " + name());
    }
    if (bytes.length == 0) {
      throw new CodecException(CodecException.Reason.EMPTY, "0 bytes for " + name());
    }
    if (bytes[0] != MAGIC_0 || (bytes.length > 1 && bytes[1] != MAGIC_1)) {
      throw new CodecException(
          CodecException.Reason.BAD_MAGIC, "expected C3 01, got " + hex(bytes, 2));
    }
    if (bytes.length < HEADER_LENGTH) {
      throw new CodecException(
          CodecException.Reason.TRUNCATED,
          bytes.length + " bytes is shorter than the 10-byte single-object header");
    }
    long writerFingerprint = 0;
    for (int i = 0; i < 8; i++) {
      writerFingerprint |= (bytes[2 + i] & 0xFFL) << (8 * i);
    }
    DatumReader<T> reader = readerFor(writerFingerprint);
    BinaryDecoder decoder =
        DecoderFactory.get().binaryDecoder(bytes, HEADER_LENGTH, bytes.length - HEADER_LENGTH, null);
    T record;
    try {
      record = reader.read(null, decoder);
    } catch (SecurityException e) {
      // A set-up fault, not bad data: the record must not go to the dead letter topic.
      throw new IllegalStateException("Avro does not trust " + type.getName(), e);
    } catch (EOFException e) {
      throw new CodecException(
          CodecException.Reason.TRUNCATED,
          name() + " body ends early (" + (bytes.length - HEADER_LENGTH) + " body bytes)", e);
    } catch (IOException | RuntimeException e) {
      throw new CodecException(
          CodecException.Reason.CORRUPT, name() + " body does not parse: " + describe(e), e);
    }
    try {
      if (!decoder.isEnd()) {
        throw new CodecException(
            CodecException.Reason.CORRUPT, name() + " body has trailing bytes after the record");
      }
    } catch (IOException e) {
      throw new CodecException(CodecException.Reason.CORRUPT, describe(e), e);
    }
    if (record == null) {
      throw new CodecException(CodecException.Reason.CORRUPT, name() + " body decoded to null");
    }
    return record;
  }

  private DatumReader<T> readerFor(long writerFingerprint) {
    DatumReader<T> reader = readers.get(writerFingerprint);
    if (reader != null) {
      return reader;
    }
    Schema writerSchema = writerSchemas.findByFingerprint(writerFingerprint);
    if (writerSchema == null) {
      throw new CodecException(
          CodecException.Reason.UNKNOWN_SCHEMA,
          String.format(
              "writer schema fingerprint %016x is not a known %s schema (current %016x)",
              writerFingerprint, name(), fingerprint));
    }
    return readers.computeIfAbsent(
        writerFingerprint, fp -> new SpecificDatumReader<>(writerSchema, schema, model));
  }

  private String name() {
    return type.getSimpleName();
  }

  private static String describe(Throwable e) {
    String message = e.getMessage();
    return e.getClass().getSimpleName() + (message == null ? "" : " " + message);
  }

  private static String hex(byte[] bytes, int max) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < Math.min(max, bytes.length); i++) {
      if (i > 0) {
        sb.append(' ');
      }
      sb.append(String.format("%02X", bytes[i] & 0xFF));
    }
    return sb.toString();
  }

  /**
   * Avro 1.12.2 refuses to instantiate classes outside its trusted set ({@code SecurityException:
   * Forbidden}) unless {@code org.apache.avro.SERIALIZABLE_PACKAGES} names them. Trusting our own
   * generated package here means no JVM flag is needed; everything trusted before stays trusted.
   */
  private static synchronized void trustGeneratedClasses() {
    ClassSecurityValidator.ClassSecurityPredicate current = ClassSecurityValidator.getGlobal();
    ClassSecurityValidator.ClassSecurityPredicate generated =
        c -> c.getName().startsWith(AVRO_PACKAGE + ".");
    if (!current.isTrusted(TrainingExample.class)) {
      ClassSecurityValidator.setGlobal(ClassSecurityValidator.composite(current, generated));
    }
  }
}
