package io.lorastream.gateway;

import io.lorastream.metrics.Metrics;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP API. Every route is listed in {@link #start}; handlers live in the route classes.
 * Everything under {@code /v1} needs an API key; health, readiness and metrics do not.
 */
public final class GatewayVerticle extends VerticleBase {
  private static final Logger log = LoggerFactory.getLogger(GatewayVerticle.class);

  private final GatewaySettings settings;
  private final ApiKeys keys;
  private final AdapterFollower follower;
  private final CompletionRoutes completions;
  private final AdapterRoutes adapters;
  private final ExampleRoutes examples;
  private final Metrics metrics;
  private HttpServer server;

  GatewayVerticle(GatewaySettings settings, ApiKeys keys, AdapterFollower follower, CompletionRoutes completions,
      AdapterRoutes adapters, ExampleRoutes examples, Metrics metrics) {
    this.settings = settings;
    this.keys = keys;
    this.follower = follower;
    this.completions = completions;
    this.adapters = adapters;
    this.examples = examples;
    this.metrics = metrics;
  }

  @Override
  public Future<?> start() {
    SlowClientGuard guard = new SlowClientGuard(vertx, settings.http());
    Router router = Router.router(vertx);
    router.route().handler(this::countRequest);
    router.route().handler(guard::onRequest);
    router.get("/healthz").handler(ctx -> Responses.json(ctx, 200, new JsonObject().put("status", "ok")));
    router.get("/readyz").handler(this::ready);
    router.get("/metrics").handler(this::metrics);

    router.route("/v1/*").handler(BodyHandler.create().setBodyLimit(settings.maxBodyBytes()));
    router.route("/v1/*").handler(guard::onBodyRead);
    router.route("/v1/*").handler(new AuthHandler(keys));
    router.post("/v1/completions").handler(completions::post);
    router.get("/v1/models").handler(adapters::models);
    router.post("/v1/examples").handler(examples::post);
    router.get("/v1/adapters/:tenant").handler(adapters::metadata);
    router.get("/v1/adapters/:tenant/peft").handler(adapters::peft);

    router.route().failureHandler(this::failure);
    router.errorHandler(404, ctx -> Responses.error(ctx, ApiException.notFound("route_not_found",
        "no route " + ctx.request().method() + " " + ctx.request().path())));
    router.errorHandler(405, ctx -> Responses.error(ctx, new ApiException(405, "invalid_request_error",
        "method_not_allowed", ctx.request().method() + " is not allowed on " + ctx.request().path(), null)));
    HttpServerOptions options = new HttpServerOptions()
        .setMaxHeaderSize(settings.http().maxHeaderBytes())
        .setIdleTimeout((int) Math.min(Integer.MAX_VALUE, settings.http().idleTimeout().toMillis()))
        .setIdleTimeoutUnit(TimeUnit.MILLISECONDS);
    return vertx.createHttpServer(options)
        .connectionHandler(guard::onConnection)
        .invalidRequestHandler(GatewayVerticle::invalidRequest)
        .requestHandler(router)
        .listen(settings.port(), settings.host())
        .onSuccess(s -> {
          server = s;
          log.info("gateway listening on http://{}:{}", settings.host(), s.actualPort());
        });
  }

  /**
   * A request the HTTP decoder refused before routing: headers over the limit (431), a request line
   * over the limit (414) or one that does not parse (400). Answered with a JSON error, then closed,
   * since the rest of the stream cannot be trusted.
   */
  private static void invalidRequest(HttpServerRequest request) {
    Throwable cause = request.decoderResult().cause();
    int status;
    String code;
    String message;
    if (cause instanceof TooLongHttpHeaderException) {
      status = 431;
      code = "headers_too_large";
      message = "the request headers are larger than the limit";
    } else if (cause instanceof TooLongHttpLineException) {
      status = 414;
      code = "uri_too_long";
      message = "the request line is longer than the limit";
    } else {
      status = 400;
      code = "malformed_http";
      message = "the request is not valid HTTP/1.1";
    }
    String body = new ApiException(status, "invalid_request_error", code, message, null).body().encode();
    request.response().setStatusCode(status).putHeader("Content-Type", "application/json")
        .putHeader("Connection", "close").end(body)
        .onComplete(done -> request.connection().close());
  }

  /** The port actually bound (useful when the settings asked for 0). */
  public int actualPort() {
    return server.actualPort();
  }

  /**
   * Ready once the adapter store has caught up. Losing Kafka afterwards does not make the gateway
   * unready (it serves its last good adapters) but the answer says it is degraded.
   */
  private void ready(RoutingContext ctx) {
    boolean ready = follower.caughtUp();
    boolean kafka = follower.kafkaConnected();
    String status = !ready ? "catching-up" : kafka ? "ready" : "degraded";
    Responses.json(ctx, ready ? 200 : 503, new JsonObject().put("status", status)
        .put("kafka", kafka ? "connected" : "unreachable"));
  }

  private void metrics(RoutingContext ctx) {
    Metrics.Scrape scrape = metrics.scrape(ctx.request().getHeader("Accept"));
    ctx.response().putHeader("Content-Type", scrape.contentType()).end(Buffer.buffer(scrape.body()));
  }

  private void countRequest(RoutingContext ctx) {
    String route = routeLabel(ctx.request().path());
    ctx.addHeadersEndHandler(v -> metrics.gatewayRequests
        .labelValues(route, Integer.toString(ctx.response().getStatusCode())).inc());
    ctx.next();
  }

  /** A bounded label set: known routes by name, anything else as "other". */
  private static String routeLabel(String path) {
    if (path.startsWith("/v1/adapters/")) {
      return path.endsWith("/peft") ? "adapter_peft" : "adapter";
    }
    return switch (path) {
      case "/v1/completions" -> "completions";
      case "/v1/models" -> "models";
      case "/v1/examples" -> "examples";
      case "/healthz" -> "healthz";
      case "/readyz" -> "readyz";
      case "/metrics" -> "metrics";
      default -> "other";
    };
  }

  private void failure(RoutingContext ctx) {
    Throwable failure = ctx.failure();
    if (failure instanceof CompletionException && failure.getCause() != null) {
      failure = failure.getCause();
    }
    if (failure instanceof ApiException api) {
      Responses.error(ctx, api);
    } else if (failure instanceof InferenceEngine.InvalidRequest invalid) {
      Responses.error(ctx, ApiException.badRequest("invalid_prompt", invalid.getMessage()));
    } else if (failure instanceof java.util.concurrent.CancellationException) {
      ctx.response().reset();
    } else if (failure instanceof InferenceEngine.Overloaded overloaded) {
      Responses.error(ctx, ApiException.overloaded(overloaded.getMessage()));
    } else if (ctx.statusCode() == 413) {
      Responses.error(ctx, new ApiException(413, "invalid_request_error", "body_too_large",
          "the body is larger than " + settings.maxBodyBytes() + " bytes", null));
    } else if (failure == null && ctx.statusCode() >= 400) {
      Responses.error(ctx, new ApiException(ctx.statusCode(), "invalid_request_error", "http_" + ctx.statusCode(),
          "request failed with status " + ctx.statusCode(), null));
    } else {
      log.error("request {} {} failed", ctx.request().method(), ctx.request().path(), failure);
      Responses.error(ctx, ApiException.internal("internal error: "
          + (failure == null ? "unknown" : failure.getClass().getSimpleName())));
    }
  }

  @Override
  public Future<?> stop() {
    return server == null ? Future.succeededFuture() : server.close();
  }
}
