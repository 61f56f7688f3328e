package io.lorastream.gateway;

import io.vertx.core.json.JsonObject;

/**
 * A validated {@code POST /v1/completions} body.
 *
 * @param model the tenant id, or {@code base} for the base model alone
 * @param prompt the text to continue
 * @param maxTokens the most tokens to generate
 */
record CompletionRequest(String model, String prompt, int maxTokens) {

  static CompletionRequest parse(JsonObject body, GatewaySettings limits) {
    String model = string(body, "model", true);
    String prompt = string(body, "prompt", true);
    if (prompt.length() > limits.maxPromptChars()) {
      throw ApiException.badRequest("prompt_too_long",
          "prompt has " + prompt.length() + " characters; the limit is " + limits.maxPromptChars());
    }
    int maxTokens = limits.defaultMaxTokens();
    Object raw = body.getValue("max_tokens");
    if (raw != null) {
      if (!(raw instanceof Number n) || n.doubleValue() != Math.rint(n.doubleValue())) {
        throw ApiException.badRequest("invalid_type", "max_tokens must be an integer");
      }
      if (n.longValue() < 1 || n.longValue() > limits.maxTokensLimit()) {
        throw ApiException.badRequest("max_tokens_out_of_range",
            "max_tokens must be between 1 and " + limits.maxTokensLimit() + ", got " + n);
      }
      maxTokens = n.intValue();
    }
    return new CompletionRequest(model, prompt, maxTokens);
  }

  private static String string(JsonObject body, String field, boolean required) {
    Object value = body.getValue(field);
    if (value == null) {
      if (required) {
        throw ApiException.badRequest("missing_field", "'" + field + "' is required");
      }
      return null;
    }
    if (!(value instanceof String s)) {
      throw ApiException.badRequest("invalid_type", "'" + field + "' must be a string");
    }
    return s;
  }
}
