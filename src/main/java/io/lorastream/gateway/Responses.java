package io.lorastream.gateway;

import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

/** Writing JSON answers and JSON errors. */
final class Responses {
  private Responses() {}

  static void json(RoutingContext ctx, int status, JsonObject body) {
    ctx.response().setStatusCode(status).putHeader("Content-Type", "application/json").end(body.encode());
  }

  static void error(RoutingContext ctx, ApiException e) {
    if (ctx.response().ended()) {
      return;
    }
    if (e.retryAfterSeconds != null) {
      ctx.response().putHeader("Retry-After", e.retryAfterSeconds.toString());
    }
    if (e.status == 401) {
      ctx.response().putHeader("WWW-Authenticate", "Bearer");
    }
    json(ctx, e.status, e.body());
  }

  /** The request body as a JSON object, or a 400 that says why not. */
  static JsonObject jsonBody(RoutingContext ctx) {
    try {
      JsonObject body = ctx.body().asJsonObject();
      if (body == null) {
        throw ApiException.badRequest("missing_body", "the request needs a JSON object body");
      }
      return body;
    } catch (io.vertx.core.json.DecodeException | ClassCastException e) {
      throw ApiException.badRequest("invalid_json", "the body is not a JSON object: " + e.getMessage());
    }
  }
}
