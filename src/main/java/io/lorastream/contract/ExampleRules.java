package io.lorastream.contract;

import io.lorastream.avro.TrainingExample;
import java.util.Optional;

/**
 * What makes a training example acceptable. Each violation has a short, stable reason code (the DLQ
 * header and the metric label) followed by a human explanation.
 */
public final class ExampleRules {
  public static final int MAX_PROMPT_CHARS = 16_384;
  public static final int MAX_COMPLETION_CHARS = 16_384;
  public static final float MAX_WEIGHT = 10f;

  private ExampleRules() {}

  /** Empty when the example is acceptable; otherwise {@code "code: explanation"}. */
  public static Optional<String> violation(String recordKey, TrainingExample example) {
    String tenant = example.getTenant();
    if (!TenantId.isValid(tenant)) {
      return Optional.of("invalid-tenant: tenant id must match [a-z0-9][a-z0-9_-]{0,62}, got '"
          + abbreviate(tenant) + "'");
    }
    if (recordKey != null && !recordKey.equals(tenant)) {
      return Optional.of("key-mismatch: record key '" + abbreviate(recordKey)
          + "' is not the example's tenant '" + tenant + "'");
    }
    if (example.getId() == null || example.getId().isBlank()) {
      return Optional.of("missing-id: the example id is empty");
    }
    if (example.getPrompt().isEmpty()) {
      return Optional.of("empty-prompt: the prompt is empty");
    }
    if (example.getCompletion().isEmpty()) {
      return Optional.of("empty-completion: the completion is empty");
    }
    if (example.getPrompt().length() > MAX_PROMPT_CHARS) {
      return Optional.of("prompt-too-long: " + example.getPrompt().length() + " chars, limit " + MAX_PROMPT_CHARS);
    }
    if (example.getCompletion().length() > MAX_COMPLETION_CHARS) {
      return Optional.of("completion-too-long: " + example.getCompletion().length() + " chars, limit "
          + MAX_COMPLETION_CHARS);
    }
    float weight = example.getWeight();
    if (!Float.isFinite(weight) || weight <= 0f || weight > MAX_WEIGHT) {
      return Optional.of("invalid-weight: weight must be in (0, " + MAX_WEIGHT + "], got " + weight);
    }
    return Optional.empty();
  }

  /** The reason code alone, e.g. {@code invalid-weight}, for metric labels. */
  public static String code(String violation) {
    int colon = violation.indexOf(':');
    return colon < 0 ? violation : violation.substring(0, colon);
  }

  private static String abbreviate(String s) {
    if (s == null) {
      return "null";
    }
    return s.length() <= 80 ? s : s.substring(0, 80) + "...";
  }
}
