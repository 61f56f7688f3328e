package io.lorastream.gateway;

import io.lorastream.metrics.Metrics;
import io.lorastream.model.Completion;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;

/**
 * {@code POST /v1/completions}, OpenAI style, with {@code model} = tenant, {@code tenant@version}
 * (pinned, while the store still holds it) or {@code base}. The event loop only parses and looks
 * up; generation runs on the {@link InferenceEngine}.
 */
final class CompletionRoutes {
  private final GatewaySettings settings;
  private final AdapterStore store;
  private final InferenceEngine engine;
  private final RateLimiter limiter;
  private final Metrics metrics;
  private final int vocabSize;

  CompletionRoutes(GatewaySettings settings, AdapterStore store, InferenceEngine engine, RateLimiter limiter,
      Metrics metrics, int vocabSize) {
    this.settings = settings;
    this.store = store;
    this.engine = engine;
    this.limiter = limiter;
    this.metrics = metrics;
    this.vocabSize = vocabSize;
  }

  void post(RoutingContext ctx) {
    CompletionRequest request = CompletionRequest.parse(Responses.jsonBody(ctx), settings, vocabSize);
    Principal principal = AuthHandler.principal(ctx);
    ServedAdapter adapter = null;
    JsonObject adapterJson = null;
    if (request.tenant() != null) {
      AuthHandler.requireAccess(ctx, request.tenant());
      ServedAdapter served = lookup(request);
      adapter = served;
      adapterJson = new JsonObject().put("tenant", served.tenant()).put("version", served.version());
      ctx.response().putHeader("X-Adapter-Version", Long.toString(served.version()));
    }
    String rateKey = request.tenant() != null ? request.tenant() : "key:" + principal.keyId();
    long wait = limiter.tryAcquire(rateKey);
    if (wait > 0) {
      throw new ApiException(429, "rate_limit_error", "rate_limited",
          "too many requests for '" + request.model() + "'; retry in " + wait + " s", (int) wait);
    }
    long started = System.nanoTime();
    CompletableFuture<Completion> work = request.promptIds() != null
        ? engine.complete(request.promptIds(), adapter, request.maxTokens())
        : engine.complete(request.promptText(), adapter, request.maxTokens());
    JsonObject adapterInfo = adapterJson;
    Future.fromCompletionStage(work, ctx.vertx().getOrCreateContext())
        .onSuccess(completion -> {
          metrics.gatewayRequestSeconds.labelValues("completions").observe((System.nanoTime() - started) / 1e9);
          metrics.gatewayTokensGenerated.inc(completion.tokenIds().length);
          Responses.json(ctx, 200, body(request, completion, adapterInfo));
        })
        .onFailure(ctx::fail);
  }

  private ServedAdapter lookup(CompletionRequest request) {
    if (request.pinnedVersion() != null) {
      return store.get(request.tenant(), request.pinnedVersion()).orElseThrow(() -> ApiException.notFound(
          "version_not_found", "tenant '" + request.tenant() + "' has no version " + request.pinnedVersion()
              + " held by this gateway (only the newest few are kept)"));
    }
    return store.get(request.tenant()).orElseThrow(() -> ApiException.notFound("model_not_found",
        "no adapter for tenant '" + request.tenant() + "' (yet); GET /v1/models lists what is served"));
  }

  private static JsonObject body(CompletionRequest request, Completion completion, JsonObject adapter) {
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
}
