package io.lorastream.kafka;

import io.lorastream.avro.AdapterCheckpoint;
import io.lorastream.avro.AdapterSnapshot;
import io.lorastream.avro.InferenceRequest;
import io.lorastream.avro.InferenceResponse;
import io.lorastream.avro.TrainingExample;
import io.lorastream.contract.AvroCodec;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;

/**
 * The topics of lorastream, named from a prefix ({@value #DEFAULT_PREFIX} by default). Keys are
 * tenant ids except on the responses topic (request id); values are Avro single-object encoded.
 */
public final class Topics {
  public static final String DEFAULT_PREFIX = "lorastream.";

  /** Header on dead letter records: the one-line reason the record was rejected (UTF-8). */
  public static final String ERROR_HEADER = "lorastream.error";

  /** Largest adapter snapshot or checkpoint value, in bytes (50 MiB). */
  public static final int MAX_LARGE_VALUE_BYTES = 50 * 1024 * 1024;

  private static final String DAY_MS = "86400000";
  private static final String WEEK_MS = "604800000";

  /**
   * Compaction for one value per tenant: segments roll hourly (or at 256 MiB) so old versions
   * become cleanable, a version survives at least 10 minutes so slow followers can still read it,
   * and a tombstone is kept a day so every follower sees the tenant removed.
   */
  private static final Map<String, String> COMPACTED_LARGE =
      Map.of(
          "cleanup.policy", "compact",
          "max.message.bytes", Integer.toString(MAX_LARGE_VALUE_BYTES),
          "segment.ms", "3600000",
          "segment.bytes", Integer.toString(256 * 1024 * 1024),
          "min.compaction.lag.ms", "600000",
          "delete.retention.ms", DAY_MS,
          "min.cleanable.dirty.ratio", "0.5");

  private final String prefix;
  private final Topic<String, TrainingExample> examples;
  private final Topic<String, TrainingExample> cleanExamples;
  private final Topic<String, byte[]> dlq;
  private final Topic<String, AdapterCheckpoint> checkpoints;
  private final Topic<String, AdapterSnapshot> adapters;
  private final Topic<String, InferenceRequest> inferenceRequests;
  private final Topic<String, InferenceResponse> inferenceResponses;

  /** Topics with the default prefix. */
  public Topics() {
    this(DEFAULT_PREFIX);
  }

  /** Topics named {@code prefix + "examples.v1"} and so on; the prefix may be empty. */
  public Topics(String prefix) {
    Objects.requireNonNull(prefix, "prefix");
    if (!prefix.matches("[a-zA-Z0-9._-]{0,200}")) {
      throw new IllegalArgumentException(
          "invalid topic prefix \"" + prefix + "\": use letters, digits, '.', '_' and '-'");
    }
    this.prefix = prefix;
    Serde<String> tenant = Serdes.String();
    examples =
        new Topic<>(prefix + "examples.v1", tenant, avro(AvroCodec.TRAINING_EXAMPLE), 8,
            Map.of("retention.ms", WEEK_MS));
    // Also carries adapter control records (rollback, import with a whole adapter): large values.
    cleanExamples =
        new Topic<>(prefix + "examples.clean.v1", tenant, avro(AvroCodec.TRAINING_EXAMPLE), 8,
            Map.of("retention.ms", WEEK_MS, "max.message.bytes", Integer.toString(MAX_LARGE_VALUE_BYTES)));
    dlq =
        new Topic<>(prefix + "examples.dlq.v1", tenant, Serdes.ByteArray(), 4,
            Map.of("retention.ms", Long.toString(14L * 86_400_000L)));
    checkpoints =
        new Topic<>(prefix + "checkpoints.v1", tenant, avro(AvroCodec.ADAPTER_CHECKPOINT), 8,
            COMPACTED_LARGE);
    adapters =
        new Topic<>(prefix + "adapters.v1", tenant, avro(AvroCodec.ADAPTER_SNAPSHOT), 8,
            COMPACTED_LARGE);
    inferenceRequests =
        new Topic<>(prefix + "inference.requests.v1", tenant, avro(AvroCodec.INFERENCE_REQUEST), 4,
            Map.of("retention.ms", DAY_MS));
    inferenceResponses =
        new Topic<>(prefix + "inference.responses.v1", Serdes.String(),
            avro(AvroCodec.INFERENCE_RESPONSE), 4, Map.of("retention.ms", DAY_MS));
  }

  private static <T extends org.apache.avro.specific.SpecificRecord> Serde<T> avro(
      AvroCodec<T> codec) {
    return new AvroSerde<>(codec);
  }

  public String prefix() {
    return prefix;
  }

  /** Raw examples from producers. Key: tenant id. */
  public Topic<String, TrainingExample> examples() {
    return examples;
  }

  /** Validated, deduplicated examples written by ingest. Key: tenant id. */
  public Topic<String, TrainingExample> cleanExamples() {
    return cleanExamples;
  }

  /** Rejected examples: the original bytes, key tenant id or null, {@link #ERROR_HEADER} why. */
  public Topic<String, byte[]> dlq() {
    return dlq;
  }

  /**
   * Compacted trainer checkpoints. Key: tenant id, value {@link AdapterCheckpoint}; beside them, the
   * weights of each tenant's kept published versions under {@link #keptVersionKey} with a
   * {@code KeptVersion} value (read those with {@code AvroCodec.KEPT_VERSION}, not this topic's serde).
   */
  public Topic<String, AdapterCheckpoint> checkpoints() {
    return checkpoints;
  }

  /**
   * Key of a kept version's weights on the checkpoints topic: {@code <tenant>@v<version>}. A tenant
   * id never contains {@code @}, so these keys never collide with a tenant's checkpoint.
   */
  public static String keptVersionKey(String tenant, long version) {
    return tenant + "@v" + version;
  }

  /** True for a key written by {@link #keptVersionKey}, false for a tenant's checkpoint. */
  public static boolean isKeptVersionKey(String key) {
    return key != null && key.indexOf('@') >= 0;
  }

  /** Compacted published adapters. Key: tenant id; a null value removes the tenant. */
  public Topic<String, AdapterSnapshot> adapters() {
    return adapters;
  }

  /** Event-driven inference requests. Key: tenant id. */
  public Topic<String, InferenceRequest> inferenceRequests() {
    return inferenceRequests;
  }

  /** Inference answers. Key: request id. */
  public Topic<String, InferenceResponse> inferenceResponses() {
    return inferenceResponses;
  }

  public List<Topic<?, ?>> all() {
    return List.of(
        examples, cleanExamples, dlq, checkpoints, adapters, inferenceRequests, inferenceResponses);
  }
}
