package io.lorastream.gateway;

import io.lorastream.contract.TenantId;
import io.lorastream.metrics.Metrics;
import io.lorastream.model.Completion;
import io.lorastream.model.LoraAdapter;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import java.util.Comparator;
import java.util.UUID;
import java.util.concurrent.CompletionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP API: OpenAI-style completions with {@code model} = tenant, the model list, health,
 * readiness and metrics. Handlers run on the event loop and only parse, look up and answer; model
 * work goes to the {@link InferenceEngine}.
 */
public final class GatewayVerticle extends VerticleBase {
  private static final Logger log = LoggerFactory.getLogger(GatewayVerticle.class);

  private final GatewaySettings settings;
  private final AdapterStore store;
  private final AdapterFollower follower;
  private final InferenceEngine engine;
  private final Metrics metrics;
  private HttpServer server;

  public GatewayVerticle(GatewaySettings settings, AdapterStore store, AdapterFollower follower,
      InferenceEngine engine, Metrics metrics) {
    this.settings = settings;
    this.store = store;
    this.follower = follower;
    this.engine = engine;
    this.metrics = metrics;
  }

  @Override
  public Future<?> start() {
    Router router = Router.router(vertx);
    router.route().handler(this::countRequest);
    router.route("/v1/*").handler(BodyHandler.create().setBodyLimit(settings.maxBodyBytes()));
    router.post("/v1/completions").handler(this::completions);
    router.get("/v1/models").handler(this::models);
    router.get("/healthz").handler(ctx -> json(ctx, 200, new JsonObject().put("status", "ok")));
    router.get("/readyz").handler(this::ready);
    router.get("/metrics").handler(this::metrics);
    router.route().failureHandler(this::failure);
    router.errorHandler(404, ctx -> error(ctx, ApiException.notFound("route_not_found",
        "no route " + ctx.request().method() + " " + ctx.request().path())));
    router.errorHandler(405, ctx -> error(ctx, new ApiException(405, "invalid_request_error",
        "method_not_allowed", ctx.request().method() + " is not allowed on " + ctx.request().path(), null)));
    return vertx.createHttpServer().requestHandler(router).listen(settings.port(), settings.host())
        .onSuccess(s -> {
          server = s;
          log.info("gateway listening on http://{}:{}", settings.host(), s.actualPort());
        });
  }

  /** The port actually bound (useful when the settings asked for 0). */
  public int actualPort() {
    return server.actualPort();
  }

  private void completions(RoutingContext ctx) {
    CompletionRequest request = CompletionRequest.parse(jsonBody(ctx), settings);
    LoraAdapter adapter = null;
    JsonObject adapterInfo = null;
    if (!TenantId.BASE.equals(request.model())) {
      ServedAdapter served = store.get(request.model()).orElseThrow(() -> ApiException.notFound("model_not_found",
          "no adapter for tenant '" + request.model() + "' (yet); GET /v1/models lists what is served"));
      adapter = served.adapter();
      adapterInfo = new JsonObject().put("tenant", served.tenant()).put("version", served.version());
      ctx.response().putHeader("X-Adapter-Version", Long.toString(served.version()));
    }
    JsonObject adapterJson = adapterInfo;
    long started = System.nanoTime();
    Future.fromCompletionStage(engine.complete(request.prompt(), adapter, request.maxTokens()), vertx.getOrCreateContext())
        .onSuccess(completion -> {
          metrics.gatewayRequestSeconds.labelValues("completions").observe((System.nanoTime() - started) / 1e9);
          metrics.gatewayTokensGenerated.inc(completion.tokenIds().length);
          json(ctx, 200, completionBody(request, completion, adapterJson));
        })
        .onFailure(ctx::fail);
  }

  private static JsonObject completionBody(CompletionRequest request, Completion completion, JsonObject adapter) {
    int completionTokens = completion.tokenIds().length;
    return new JsonObject()
        .put("id", "cmpl-" + UUID.randomUUID())
        .put("object", "text_completion")
        .put("created", System.currentTimeMillis() / 1000)
        .put("model", request.model())
        .put("choices", new JsonArray().add(new JsonObject()
            .put("text", completion.text())
            .put("index", 0)
            .putNull("logprobs")
            .put("finish_reason", completion.finishReason())))
        .put("usage", new JsonObject()
            .put("prompt_tokens", completion.promptTokens())
            .put("completion_tokens", completionTokens)
            .put("total_tokens", completion.promptTokens() + completionTokens))
        .put("adapter", adapter);
  }

  private void models(RoutingContext ctx) {
    JsonArray data = new JsonArray().add(new JsonObject()
        .put("id", TenantId.BASE).put("object", "model").put("owned_by", "lorastream"));
    store.all().stream().sorted(Comparator.comparing(ServedAdapter::tenant)).forEach(a -> data.add(new JsonObject()
        .put("id", a.tenant())
        .put("object", "model")
        .put("owned_by", a.tenant())
        .put("parent", TenantId.BASE)
        .put("version", a.version())
        .put("examples_seen", a.examplesSeen())
        .put("train_loss", a.trainLoss())
        .put("created", a.createdAtMillis() / 1000)));
    json(ctx, 200, new JsonObject().put("object", "list").put("data", data));
  }

  private void ready(RoutingContext ctx) {
    boolean ready = follower.caughtUp();
    json(ctx, ready ? 200 : 503, new JsonObject()
        .put("status", ready ? "ready" : "catching-up")
        .put("adapters", store.all().size()));
  }

  private void metrics(RoutingContext ctx) {
    Metrics.Scrape scrape = metrics.scrape(ctx.request().getHeader("Accept"));
    ctx.response().putHeader("Content-Type", scrape.contentType())
        .end(io.vertx.core.buffer.Buffer.buffer(scrape.body()));
  }

  private void countRequest(RoutingContext ctx) {
    String route = ctx.request().path();
    ctx.addHeadersEndHandler(v -> metrics.gatewayRequests
        .labelValues(routeLabel(route), Integer.toString(ctx.response().getStatusCode())).inc());
    ctx.next();
  }

  /** A bounded label set: known routes by name, anything else as "other". */
  private static String routeLabel(String path) {
    return switch (path) {
      case "/v1/completions" -> "completions";
      case "/v1/models" -> "models";
      case "/healthz" -> "healthz";
      case "/readyz" -> "readyz";
      case "/metrics" -> "metrics";
      default -> "other";
    };
  }

  private static JsonObject jsonBody(RoutingContext ctx) {
    try {
      JsonObject body = ctx.body().asJsonObject();
      if (body == null) {
        throw ApiException.badRequest("missing_body", "the request needs a JSON object body");
      }
      return body;
    } catch (DecodeException | ClassCastException e) {
      throw ApiException.badRequest("invalid_json", "the body is not a JSON object: " + e.getMessage());
    }
  }

  private void failure(RoutingContext ctx) {
    Throwable failure = ctx.failure();
    if (failure instanceof CompletionException && failure.getCause() != null) {
      failure = failure.getCause();
    }
    if (failure instanceof ApiException api) {
      error(ctx, api);
    } else if (failure instanceof InferenceEngine.Overloaded overloaded) {
      error(ctx, ApiException.overloaded(overloaded.getMessage()));
    } else if (ctx.statusCode() == 413) {
      error(ctx, new ApiException(413, "invalid_request_error", "body_too_large",
          "the body is larger than " + settings.maxBodyBytes() + " bytes", null));
    } else if (failure == null && ctx.statusCode() >= 400) {
      error(ctx, new ApiException(ctx.statusCode(), "invalid_request_error", "http_" + ctx.statusCode(),
          "request failed with status " + ctx.statusCode(), null));
    } else {
      log.error("request {} {} failed", ctx.request().method(), ctx.request().path(), failure);
      error(ctx, ApiException.internal("internal error: " + (failure == null ? "unknown" : failure.getClass().getSimpleName())));
    }
  }

  private static void error(RoutingContext ctx, ApiException e) {
    if (ctx.response().ended()) {
      return;
    }
    if (e.retryAfterSeconds != null) {
      ctx.response().putHeader("Retry-After", e.retryAfterSeconds.toString());
    }
    json(ctx, e.status, e.body());
  }

  private static void json(RoutingContext ctx, int status, JsonObject body) {
    ctx.response().setStatusCode(status).putHeader("Content-Type", "application/json").end(body.encode());
  }

  @Override
  public Future<?> stop() {
    return server == null ? Future.succeededFuture() : server.close();
  }
}
