package io.lorastream.contract;

import io.lorastream.avro.TrainingExample;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.Map;

/**
 * The train/holdout split of examples. Ingest writes {@code metadata["lorastream.split"]}; the
 * trainer trains only on {@link #TRAIN} examples and keeps {@link #HOLDOUT} ones for evaluation.
 *
 * <p>The split is a pure function of {@code tenant + "/" + id}: the first 8 bytes of its SHA-256
 * (big endian, unsigned) as a fraction of 2^64, holdout when below the holdout share. So the same
 * example lands in the same split on every replay, on every instance and after a restart, and a
 * larger share only moves examples from train to holdout. Changing this function reshuffles every
 * tenant's holdout set: {@code SplitsTest} pins it.
 */
public final class Splits {
  /** Metadata key of the split tag. */
  public static final String KEY = "lorastream.split";
  public static final String HOLDOUT = "holdout";
  public static final String TRAIN = "train";

  private Splits() {}

  /** Position of the example in [0, 1): the split's stable hash of {@code tenant + "/" + id}. */
  public static double fraction(String tenant, String id) {
    byte[] digest = sha256().digest((tenant + "/" + id).getBytes(StandardCharsets.UTF_8));
    long first8 = ByteBuffer.wrap(digest, 0, 8).getLong();
    // The top 53 bits, exactly representable as a double in [0, 1).
    return (first8 >>> 11) * 0x1.0p-53;
  }

  /** {@link #HOLDOUT} for a share {@code holdoutShare} in [0, 1] of all ids, else {@link #TRAIN}. */
  public static String assign(String tenant, String id, double holdoutShare) {
    return fraction(tenant, id) < holdoutShare ? HOLDOUT : TRAIN;
  }

  /** A copy of {@code example} tagged with its split; a tag the producer set is overwritten. */
  public static TrainingExample tagged(TrainingExample example, double holdoutShare) {
    Map<String, String> metadata =
        example.getMetadata() == null ? new HashMap<>() : new HashMap<>(example.getMetadata());
    metadata.put(KEY, assign(example.getTenant(), example.getId(), holdoutShare));
    return TrainingExample.newBuilder(example).setMetadata(metadata).build();
  }

  /**
   * The example's split tag: {@link #HOLDOUT} only when tagged so; untagged examples (written
   * straight to the clean topic, or older than this tag) are {@link #TRAIN}.
   */
  public static String of(TrainingExample example) {
    Map<String, String> metadata = example.getMetadata();
    return metadata != null && HOLDOUT.equals(metadata.get(KEY)) ? HOLDOUT : TRAIN;
  }

  public static boolean isHoldout(TrainingExample example) {
    return HOLDOUT.equals(of(example));
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime has SHA-256", e);
    }
  }
}
