package io.lorastream.contract;

/**
 * Bytes that cannot be decoded into a record. The {@link #dlqReason()} is one line meant for
 * people and for the {@code lorastream.error} header of the dead letter topic.
 */
public final class CodecException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** Why decoding failed; each has a stable slug used at the start of {@link #dlqReason()}. */
  public enum Reason {
    /** A null value (a Kafka tombstone where a record was expected). */
    NULL("null"),
    /** Zero bytes. */
    EMPTY("empty"),
    /** Not Avro single-object encoding: the first two bytes are not {@code C3 01}. */
    BAD_MAGIC("bad-magic"),
    /** A writer schema fingerprint this reader does not know. */
    UNKNOWN_SCHEMA("unknown-schema"),
    /** The header or body ends early. */
    TRUNCATED("truncated"),
    /** The body does not parse with the writer schema, or bytes are left over. */
    CORRUPT("corrupt");

    private final String slug;

    Reason(String slug) {
      this.slug = slug;
    }

    /** Stable, lower-case, dash-separated name, e.g. {@code bad-magic}. */
    public String slug() {
      return slug;
    }
  }

  private final Reason reason;
  private final String detail;

  public CodecException(Reason reason, String detail) {
    this(reason, detail, null);
  }

  public CodecException(Reason reason, String detail, Throwable cause) {
    super(reason.slug() + ": " + oneLine(detail), cause);
    this.reason = reason;
    this.detail = oneLine(detail);
  }

  public Reason reason() {
    return reason;
  }

  /** One line such as {@code bad-magic: expected C3 01, got 7B 22}. */
  public String dlqReason() {
    return reason.slug() + ": " + detail;
  }

  private static String oneLine(String s) {
    if (s == null) {
      return "";
    }
    String line = s.replaceAll("[\\r\\n\\t]+", " ").strip();
    return line.length() > 300 ? line.substring(0, 300) + "…" : line;
  }
}
