package io.lorastream.contract;

import io.lorastream.avro.TrainingExample;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;

/**
 * What makes a training example acceptable. Each violation has a short, stable reason code (the DLQ
 * header and the metric label) followed by a human explanation.
 *
 * <p>Reason codes: {@code invalid-tenant}, {@code key-mismatch}, {@code missing-id},
 * {@code id-too-long}, {@code empty-prompt}, {@code empty-completion}, {@code prompt-too-long},
 * {@code completion-too-long}, {@code invalid-utf8}, {@code invalid-weight},
 * {@code metadata-too-large}, {@code future-event-time}. Operators alert and search on them: rename
 * none.
 *
 * <p>{@code invalid-utf8}: Avro decodes string bytes that are not valid UTF-8 to U+FFFD (the
 * replacement character) without an error, and JSON can carry unpaired surrogates; an id, prompt or
 * completion holding either is refused rather than trained on as mangled text. A producer that
 * means to send U+FFFD itself is refused too: it marks text that was already broken upstream.
 *
 * <p>Text limits hold in characters (what a tokenizer sees) and in UTF-8 bytes (what Kafka and
 * memory see); 16 Ki characters of CJK text are 48 KiB, so the byte limit is the tighter one there.
 */
public final class ExampleRules {
  public static final int MAX_ID_BYTES = 256;
  public static final int MAX_PROMPT_CHARS = 16_384;
  public static final int MAX_PROMPT_BYTES = 32_768;
  public static final int MAX_COMPLETION_CHARS = 16_384;
  public static final int MAX_COMPLETION_BYTES = 32_768;
  public static final float MAX_WEIGHT = 10f;
  public static final int MAX_METADATA_ENTRIES = 32;
  /** Sum of the UTF-8 lengths of all metadata keys and values. */
  public static final int MAX_METADATA_BYTES = 4_096;
  /** An event time later than now plus this is a producer clock or unit error (seconds vs ms). */
  public static final Duration MAX_FUTURE_SKEW = Duration.ofDays(1);

  private ExampleRules() {}

  /** {@link #violation(String, TrainingExample, Instant)} against the system clock. */
  public static Optional<String> violation(String recordKey, TrainingExample example) {
    return violation(recordKey, example, Instant.now());
  }

  /**
   * Empty when the example is acceptable at {@code now}; otherwise {@code "code: explanation"}.
   * A null {@code recordKey} is not checked against the tenant.
   */
  public static Optional<String> violation(String recordKey, TrainingExample example, Instant now) {
    return violation(recordKey, example, now, MAX_FUTURE_SKEW);
  }

  /**
   * As {@link #violation(String, TrainingExample, Instant)}, with event times up to
   * {@code maxFutureSkew} after {@code now} accepted (ingest makes the skew configurable).
   */
  public static Optional<String> violation(String recordKey, TrainingExample example, Instant now,
      Duration maxFutureSkew) {
    String tenant = example.getTenant();
    if (!TenantId.isValid(tenant)) {
      return Optional.of("invalid-tenant: tenant id must match [a-z0-9][a-z0-9_-]{0,62}, got '"
          + abbreviate(tenant) + "'");
    }
    if (recordKey != null && !recordKey.equals(tenant)) {
      return Optional.of("key-mismatch: record key '" + abbreviate(recordKey)
          + "' is not the example's tenant '" + tenant + "'");
    }
    String id = example.getId();
    if (id == null || id.isBlank()) {
      return Optional.of("missing-id: the example id is empty");
    }
    int idBytes = utf8Length(id);
    if (idBytes > MAX_ID_BYTES) {
      return Optional.of("id-too-long: " + idBytes + " UTF-8 bytes, limit " + MAX_ID_BYTES);
    }
    String prompt = example.getPrompt();
    String completion = example.getCompletion();
    if (prompt.isEmpty()) {
      return Optional.of("empty-prompt: the prompt is empty");
    }
    if (completion.isEmpty()) {
      return Optional.of("empty-completion: the completion is empty");
    }
    Optional<String> size = sizeViolation("prompt-too-long", prompt, MAX_PROMPT_CHARS, MAX_PROMPT_BYTES);
    if (size.isPresent()) {
      return size;
    }
    size = sizeViolation("completion-too-long", completion, MAX_COMPLETION_CHARS, MAX_COMPLETION_BYTES);
    if (size.isPresent()) {
      return size;
    }
    Optional<String> malformed = malformedText("id", id)
        .or(() -> malformedText("prompt", prompt))
        .or(() -> malformedText("completion", completion));
    if (malformed.isPresent()) {
      return malformed;
    }
    float weight = example.getWeight();
    if (!Float.isFinite(weight) || weight <= 0f || weight > MAX_WEIGHT) {
      return Optional.of("invalid-weight: weight must be in (0, " + MAX_WEIGHT + "], got " + weight);
    }
    Map<String, String> metadata = example.getMetadata();
    if (metadata != null) {
      if (metadata.size() > MAX_METADATA_ENTRIES) {
        return Optional.of("metadata-too-large: " + metadata.size() + " entries, limit " + MAX_METADATA_ENTRIES);
      }
      long bytes = 0;
      for (Map.Entry<String, String> e : metadata.entrySet()) {
        bytes += utf8Length(e.getKey()) + utf8Length(e.getValue());
      }
      if (bytes > MAX_METADATA_BYTES) {
        return Optional.of("metadata-too-large: " + bytes + " UTF-8 bytes of keys and values, limit "
            + MAX_METADATA_BYTES);
      }
    }
    Instant eventTime = example.getEventTime();
    if (eventTime != null && eventTime.isAfter(now.plus(maxFutureSkew))) {
      return Optional.of("future-event-time: event time " + eventTime + " is more than "
          + maxFutureSkew.toHours() + " h after now (" + now + ")");
    }
    return Optional.empty();
  }

  /** The reason code alone, e.g. {@code invalid-weight}, for metric labels. */
  public static String code(String violation) {
    int colon = violation.indexOf(':');
    return colon < 0 ? violation : violation.substring(0, colon);
  }

  /**
   * Bytes of {@code s} in UTF-8 without encoding it; a lone surrogate counts 3 bytes (an upper
   * bound: Java encodes it as the 1-byte '?'). Null counts 0.
   */
  public static int utf8Length(CharSequence s) {
    if (s == null) {
      return 0;
    }
    int bytes = 0;
    int n = s.length();
    for (int i = 0; i < n; i++) {
      char c = s.charAt(i);
      if (c < 0x80) {
        bytes += 1;
      } else if (c < 0x800) {
        bytes += 2;
      } else if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
        bytes += 4;
        i++;
      } else {
        bytes += 3;
      }
    }
    return bytes;
  }

  /**
   * Index of the first U+FFFD or unpaired surrogate in {@code s}, or -1 when every char is part of
   * well-formed text.
   */
  static int firstMalformedChar(String s) {
    int n = s.length();
    for (int i = 0; i < n; i++) {
      char c = s.charAt(i);
      if (c == '\uFFFD') {
        return i;
      }
      if (Character.isHighSurrogate(c)) {
        if (i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
          i++;
          continue;
        }
        return i;
      }
      if (Character.isLowSurrogate(c)) {
        return i;
      }
    }
    return -1;
  }

  private static Optional<String> malformedText(String field, String text) {
    int bad = firstMalformedChar(text);
    if (bad < 0) {
      return Optional.empty();
    }
    String what = text.charAt(bad) == '\uFFFD' ? "U+FFFD (replacement character)"
        : String.format("an unpaired surrogate U+%04X", (int) text.charAt(bad));
    return Optional.of("invalid-utf8: the " + field + " has " + what + " at char " + bad
        + ", the mark of bytes that were not valid UTF-8");
  }

  private static Optional<String> sizeViolation(String code, String text, int maxChars, int maxBytes) {
    if (text.length() > maxChars) {
      return Optional.of(code + ": " + text.length() + " chars, limit " + maxChars);
    }
    int bytes = utf8Length(text);
    if (bytes > maxBytes) {
      return Optional.of(code + ": " + bytes + " UTF-8 bytes, limit " + maxBytes);
    }
    return Optional.empty();
  }

  private static String abbreviate(String s) {
    if (s == null) {
      return "null";
    }
    return s.length() <= 80 ? s : s.substring(0, 80) + "...";
  }
}
