package io.lorastream.gateway;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpConnection;
import io.vertx.ext.web.RoutingContext;
import java.util.HashMap;
import java.util.Map;

/**
 * Drops clients that trickle a request: the idle timeout alone does not, since every byte counts as
 * activity. A new connection gets {@link HttpLimits#requestTimeout()} to deliver its first
 * request's headers, and every request the same again for its body. Between two requests of a
 * kept-alive connection the next headers are due within {@link HttpLimits#idleTimeout()}: a
 * client that pools connections may legitimately leave one unused for a while, and closing it
 * after the short request timeout raced clients that reuse a pooled connection at about that
 * moment (their request was lost). Missing a headers deadline closes the connection (no request
 * exists to answer); missing the body deadline answers 408 with a JSON error and closes it.
 *
 * <p>All methods run on the event loop of the connection concerned, so no locking is needed; one
 * instance serves one verticle (one event loop).
 */
final class SlowClientGuard {
  private static final String BODY_TIMER = "lorastream.bodyTimer";

  private final Vertx vertx;
  private final long timeoutMs;
  private final long keepAliveMs;
  /** Connections waiting for a request's headers → their timer. */
  private final Map<HttpConnection, Long> headerTimers = new HashMap<>();

  SlowClientGuard(Vertx vertx, HttpLimits limits) {
    this.vertx = vertx;
    this.timeoutMs = limits.requestTimeout().toMillis();
    this.keepAliveMs = Math.max(timeoutMs, limits.idleTimeout().toMillis());
  }

  /** A new connection: its first request's headers are due. */
  void onConnection(HttpConnection connection) {
    awaitHeaders(connection, timeoutMs);
    connection.closeHandler(v -> cancelHeaderTimer(connection));
  }

  /** First handler of every request: the headers are in, the body is due. */
  void onRequest(RoutingContext ctx) {
    HttpConnection connection = ctx.request().connection();
    cancelHeaderTimer(connection);
    long timer = vertx.setTimer(timeoutMs, id -> {
      if (!ctx.response().headWritten()) {
        ctx.response().putHeader("Connection", "close");
        Responses.error(ctx, new ApiException(408, "invalid_request_error", "request_timeout",
            "the request body did not arrive within " + timeoutMs + " ms", null));
      }
      connection.close();
    });
    ctx.put(BODY_TIMER, timer);
    ctx.addEndHandler(done -> {
      bodyRead(ctx);
      if (!ctx.request().isEnded() || ctx.response().headers().contains("Connection", "close", true)) {
        return;
      }
      awaitHeaders(connection, keepAliveMs); // keep-alive: the next request's headers are due
    });
    ctx.next();
  }

  /** After the body handler: the body is in; generating the answer takes what it takes. */
  void onBodyRead(RoutingContext ctx) {
    bodyRead(ctx);
    ctx.next();
  }

  private void bodyRead(RoutingContext ctx) {
    Long timer = ctx.get(BODY_TIMER);
    if (timer != null) {
      vertx.cancelTimer(timer);
      ctx.remove(BODY_TIMER);
    }
  }

  private void awaitHeaders(HttpConnection connection, long dueInMs) {
    cancelHeaderTimer(connection);
    long timer = vertx.setTimer(dueInMs, id -> {
      headerTimers.remove(connection);
      connection.close();
    });
    headerTimers.put(connection, timer);
  }

  private void cancelHeaderTimer(HttpConnection connection) {
    Long timer = headerTimers.remove(connection);
    if (timer != null) {
      vertx.cancelTimer(timer);
    }
  }

  /** Connections waiting for headers; for tests that check nothing piles up. */
  int awaitingHeaders() {
    return headerTimers.size();
  }
}
