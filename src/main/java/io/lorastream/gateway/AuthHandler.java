package io.lorastream.gateway;

import io.vertx.core.Handler;
import io.vertx.ext.web.RoutingContext;

/**
 * Requires {@code Authorization: Bearer <key>} and puts the key's {@link Principal} on the context;
 * 401 without a valid key. Which tenant a principal may reach is checked by each route.
 */
final class AuthHandler implements Handler<RoutingContext> {
  private static final String PRINCIPAL = "lorastream.principal";
  private final ApiKeys keys;

  AuthHandler(ApiKeys keys) {
    this.keys = keys;
  }

  @Override
  public void handle(RoutingContext ctx) {
    String header = ctx.request().getHeader("Authorization");
    if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
      throw unauthorized("missing API key: send 'Authorization: Bearer <key>'");
    }
    Principal principal = keys.authenticate(header.substring(7).trim())
        .orElseThrow(() -> unauthorized("invalid API key"));
    ctx.put(PRINCIPAL, principal);
    ctx.next();
  }

  static Principal principal(RoutingContext ctx) {
    Principal p = ctx.get(PRINCIPAL);
    if (p == null) {
      throw new IllegalStateException("route is not behind the auth handler");
    }
    return p;
  }

  /** 403 unless the request's key may reach {@code tenant}. */
  static void requireAccess(RoutingContext ctx, String tenant) {
    if (!principal(ctx).mayAccess(tenant)) {
      throw new ApiException(403, "permission_error", "forbidden",
          "this API key does not belong to tenant '" + tenant + "'", null);
    }
  }

  private static ApiException unauthorized(String message) {
    return new ApiException(401, "authentication_error", "invalid_api_key", message, null);
  }
}
