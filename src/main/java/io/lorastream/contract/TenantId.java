package io.lorastream.contract;

import java.util.regex.Pattern;

/**
 * Tenant ids: {@code [a-z0-9][a-z0-9_-]{0,62}}. They name Kafka keys, file names and URL path
 * segments, so the alphabet is kept safe for all three. {@link #BASE} is reserved for "no adapter".
 */
public final class TenantId {
  /** The model name that selects the base model without an adapter; never a tenant id. */
  public static final String BASE = "base";

  private static final Pattern PATTERN = Pattern.compile("[a-z0-9][a-z0-9_-]{0,62}");

  private TenantId() {}

  /** True when {@code id} is a usable tenant id (matches the pattern and is not {@link #BASE}). */
  public static boolean isValid(String id) {
    return id != null && PATTERN.matcher(id).matches() && !BASE.equals(id);
  }

  /** Returns {@code id} when valid, else throws with a message that says what is wrong. */
  public static String require(String id) {
    if (id == null) {
      throw new IllegalArgumentException("tenant id is missing");
    }
    if (BASE.equals(id)) {
      throw new IllegalArgumentException(
          "tenant id \"base\" is reserved for the base model without an adapter");
    }
    if (!PATTERN.matcher(id).matches()) {
      throw new IllegalArgumentException(
          "invalid tenant id " + quote(id)
              + ": use 1 to 63 characters of a-z, 0-9, '_' and '-', starting with a letter or digit");
    }
    return id;
  }

  /** Quotes for an error message, shortened and without control characters. */
  private static String quote(String id) {
    String shown = id.length() > 80 ? id.substring(0, 80) + "…(" + id.length() + " chars)" : id;
    return '"' + shown.replaceAll("\\p{Cntrl}", "?") + '"';
  }
}
