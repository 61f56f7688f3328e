package io.lorastream.gateway;

import io.vertx.core.json.JsonObject;

/**
 * An error the HTTP API answers with: a status and OpenAI's error body
 * {@code {"error": {"message", "type", "code"}}}.
 */
final class ApiException extends RuntimeException {
  final int status;
  final String type;
  final String code;
  final Integer retryAfterSeconds;

  ApiException(int status, String type, String code, String message, Integer retryAfterSeconds) {
    super(message);
    this.status = status;
    this.type = type;
    this.code = code;
    this.retryAfterSeconds = retryAfterSeconds;
  }

  static ApiException badRequest(String code, String message) {
    return new ApiException(400, "invalid_request_error", code, message, null);
  }

  static ApiException notFound(String code, String message) {
    return new ApiException(404, "not_found_error", code, message, null);
  }

  static ApiException overloaded(String message) {
    return new ApiException(503, "overloaded_error", "overloaded", message, 1);
  }

  static ApiException internal(String message) {
    return new ApiException(500, "server_error", "internal_error", message, null);
  }

  JsonObject body() {
    return new JsonObject().put("error", new JsonObject()
        .put("message", getMessage()).put("type", type).put("code", code));
  }
}
