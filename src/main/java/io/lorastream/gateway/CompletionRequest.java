package io.lorastream.gateway;

import io.lorastream.contract.TenantId;
import io.lorastream.model.SamplingParams;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;

/**
 * A validated {@code POST /v1/completions} body.
 *
 * @param tenant the tenant whose adapter answers, or null for the base model alone
 * @param pinnedVersion the adapter version asked for with {@code tenant@version}, or null for the newest
 * @param promptText the text to continue (a bos token is put before it), or null when ids are given
 * @param promptIds token ids to continue exactly as given, or null when text is given
 * @param params max_tokens, temperature, top_p, seed, stop and logprobs
 * @param stream answer with server-sent events, one chunk per generated piece of text
 */
record CompletionRequest(String model, String tenant, Long pinnedVersion, String promptText, int[] promptIds,
    SamplingParams params, boolean stream) {
  static final int MAX_STOP_SEQUENCES = 4;

  static CompletionRequest parse(JsonObject body, GatewaySettings limits, int vocabSize) {
    String model = string(body, "model");
    String tenant = null;
    Long pinned = null;
    if (!TenantId.BASE.equals(model)) {
      int at = model.indexOf('@');
      tenant = at < 0 ? model : model.substring(0, at);
      if (at >= 0) {
        try {
          pinned = Long.parseLong(model.substring(at + 1));
        } catch (NumberFormatException e) {
          throw ApiException.badRequest("invalid_model", "model must be 'tenant', 'tenant@version' or 'base', got '"
              + model + "'");
        }
      }
      if (!TenantId.isValid(tenant)) {
        throw ApiException.badRequest("invalid_model", "not a tenant id: '" + tenant + "'");
      }
    }
    Object prompt = body.getValue("prompt");
    String text = null;
    int[] ids = null;
    if (prompt instanceof String s) {
      if (s.length() > limits.maxPromptChars()) {
        throw ApiException.badRequest("prompt_too_long",
            "prompt has " + s.length() + " characters; the limit is " + limits.maxPromptChars());
      }
      text = s;
    } else if (prompt instanceof JsonArray array) {
      ids = tokenIds(array, limits, vocabSize);
    } else if (prompt == null) {
      throw ApiException.badRequest("missing_field", "'prompt' is required");
    } else {
      throw ApiException.badRequest("invalid_type", "'prompt' must be a string or a list of token ids");
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
    float temperature = number(body, "temperature", 0.0, 0.0, 2.0).floatValue();
    float topP = number(body, "top_p", 1.0, 0.0, 1.0).floatValue();
    if (topP == 0f) {
      throw ApiException.badRequest("invalid_top_p", "top_p must be greater than 0");
    }
    Long seed = null;
    if (body.getValue("seed") != null) {
      if (!(body.getValue("seed") instanceof Number n) || n.doubleValue() != Math.rint(n.doubleValue())) {
        throw ApiException.badRequest("invalid_type", "seed must be an integer");
      }
      seed = n.longValue();
    }
    Integer logprobs = null;
    if (body.getValue("logprobs") != null) {
      logprobs = number(body, "logprobs", 0, 0, SamplingParams.MAX_LOGPROBS).intValue();
    }
    Object n = body.getValue("n");
    if (n != null && !(n instanceof Number k && k.intValue() == 1)) {
      throw ApiException.badRequest("unsupported_value", "only n = 1 is supported");
    }
    Object stream = body.getValue("stream", false);
    if (!(stream instanceof Boolean)) {
      throw ApiException.badRequest("invalid_type", "stream must be true or false");
    }
    SamplingParams params = new SamplingParams(maxTokens, temperature, topP, seed, stops(body), logprobs);
    return new CompletionRequest(model, tenant, pinned, text, ids, params, (Boolean) stream);
  }

  private static List<String> stops(JsonObject body) {
    Object stop = body.getValue("stop");
    List<String> stops = new ArrayList<>();
    if (stop instanceof String s) {
      stops.add(s);
    } else if (stop instanceof JsonArray array) {
      for (Object o : array) {
        if (!(o instanceof String s)) {
          throw ApiException.badRequest("invalid_type", "stop must be a string or a list of strings");
        }
        stops.add(s);
      }
    } else if (stop != null) {
      throw ApiException.badRequest("invalid_type", "stop must be a string or a list of strings");
    }
    if (stops.size() > MAX_STOP_SEQUENCES || stops.stream().anyMatch(String::isEmpty)) {
      throw ApiException.badRequest("invalid_stop", "give at most " + MAX_STOP_SEQUENCES + " non-empty stop sequences");
    }
    return stops;
  }

  private static Number number(JsonObject body, String field, double fallback, double min, double max) {
    Object value = body.getValue(field);
    if (value == null) {
      return fallback;
    }
    if (!(value instanceof Number n) || !Double.isFinite(n.doubleValue())) {
      throw ApiException.badRequest("invalid_type", field + " must be a number");
    }
    if (n.doubleValue() < min || n.doubleValue() > max) {
      throw ApiException.badRequest("invalid_" + field, field + " must be between " + min + " and " + max
          + ", got " + n);
    }
    return n;
  }

  private static int[] tokenIds(JsonArray array, GatewaySettings limits, int vocabSize) {
    if (array.isEmpty() || array.size() > limits.maxPromptChars()) {
      throw ApiException.badRequest("invalid_prompt", "a token-id prompt needs 1 to " + limits.maxPromptChars() + " ids");
    }
    int[] ids = new int[array.size()];
    for (int i = 0; i < ids.length; i++) {
      Object v = array.getValue(i);
      if (!(v instanceof Number n) || n.doubleValue() != Math.rint(n.doubleValue())
          || n.longValue() < 0 || n.longValue() >= vocabSize) {
        throw ApiException.badRequest("invalid_prompt",
            "prompt[" + i + "] must be a token id in 0.." + (vocabSize - 1) + ", got " + v);
      }
      ids[i] = n.intValue();
    }
    return ids;
  }

  private static String string(JsonObject body, String field) {
    Object value = body.getValue(field);
    if (value == null) {
      throw ApiException.badRequest("missing_field", "'" + field + "' is required");
    }
    if (!(value instanceof String s)) {
      throw ApiException.badRequest("invalid_type", "'" + field + "' must be a string");
    }
    return s;
  }
}
