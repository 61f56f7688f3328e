package io.lorastream.gateway;

import io.lorastream.metrics.Metrics;
import io.lorastream.model.Completion;
import io.lorastream.model.TextTokenizer;
import io.lorastream.model.TokenLogprob;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.util.UUID;

/**
 * {@code POST /v1/completions}, OpenAI style, with {@code model} = tenant, {@code tenant@version}
 * (pinned, while the store still holds it) or {@code base}. The event loop only parses, checks and
 * looks up; generation runs in the {@link InferenceEngine}'s batch. With {@code "stream": true} the
 * answer is server-sent events in OpenAI's chunk format, ending with {@code data: [DONE]}.
 */
final class CompletionRoutes {
  private final GatewaySettings settings;
  private final AdapterStore store;
  private final InferenceEngine engine;
  private final RateLimiter limiter;
  private final Metrics metrics;
  private final TextTokenizer tokenizer;
  private final int vocabSize;

  CompletionRoutes(GatewaySettings settings, AdapterStore store, InferenceEngine engine, RateLimiter limiter,
      Metrics metrics, TextTokenizer tokenizer, int vocabSize) {
    this.settings = settings;
    this.store = store;
    this.engine = engine;
    this.limiter = limiter;
    this.metrics = metrics;
    this.tokenizer = tokenizer;
    this.vocabSize = vocabSize;
  }

  void post(RoutingContext ctx) {
    CompletionRequest request = CompletionRequest.parse(Responses.jsonBody(ctx), settings, vocabSize);
    Principal principal = AuthHandler.principal(ctx);
    ServedAdapter adapter = null;
    JsonObject adapterJson = null;
    if (request.tenant() != null) {
      AuthHandler.requireAccess(ctx, request.tenant());
      adapter = lookup(request);
      adapterJson = new JsonObject().put("tenant", adapter.tenant()).put("version", adapter.version());
      ctx.response().putHeader("X-Adapter-Version", Long.toString(adapter.version()));
    }
    String rateKey = request.tenant() != null ? request.tenant() : "key:" + principal.keyId();
    long wait = limiter.tryAcquire(rateKey);
    if (wait > 0) {
      throw new ApiException(429, "rate_limit_error", "rate_limited",
          "too many requests for '" + request.model() + "'; retry in " + wait + " s", (int) wait);
    }
    String id = "cmpl-" + UUID.randomUUID();
    if (request.stream()) {
      stream(ctx, request, adapter, adapterJson, id);
      return;
    }
    long started = System.nanoTime();
    InferenceEngine.Job job = submit(request, adapter, null);
    JsonObject adapterInfo = adapterJson;
    Future.fromCompletionStage(job.result(), ctx.vertx().getOrCreateContext())
        .onSuccess(completion -> {
          metrics.gatewayRequestSeconds.labelValues("completions").observe((System.nanoTime() - started) / 1e9);
          metrics.gatewayTokensGenerated.inc(completion.tokenIds().length);
          Responses.json(ctx, 200, body(id, request, completion, adapterInfo));
        })
        .onFailure(ctx::fail);
  }

  private InferenceEngine.Job submit(CompletionRequest request, ServedAdapter adapter,
      InferenceEngine.TokenListener listener) {
    return request.promptIds() != null
        ? engine.submit(request.promptIds(), adapter, request.params(), listener)
        : engine.submit(request.promptText(), adapter, request.params(), listener);
  }

  /** Server-sent events: text deltas as tokens arrive, then the finish reason, then [DONE]. */
  private void stream(RoutingContext ctx, CompletionRequest request, ServedAdapter adapter, JsonObject adapterJson,
      String id) {
    Context context = ctx.vertx().getOrCreateContext();
    long started = System.nanoTime();
    TextStream text = new TextStream(tokenizer, request.params().stop());
    InferenceEngine.Job job = submit(request, adapter, tokens -> {
      String delta = text.add(tokens);
      if (!delta.isEmpty()) {
        context.runOnContext(v -> writeChunk(ctx, id, request, delta, null, adapterJson, started));
      }
    });
    ctx.response().closeHandler(v -> job.cancel());
    Future.fromCompletionStage(job.result(), context)
        .onSuccess(completion -> {
          metrics.gatewayRequestSeconds.labelValues("completions").observe((System.nanoTime() - started) / 1e9);
          metrics.gatewayTokensGenerated.inc(completion.tokenIds().length);
          String rest = text.finish(completion.text());
          writeChunk(ctx, id, request, rest, completion.finishReason(), adapterJson, started);
          ctx.response().end("data: [DONE]\n\n");
        })
        .onFailure(e -> {
          if (!ctx.response().headWritten()) {
            ctx.fail(e);
          } else if (!ctx.response().ended()) {
            ctx.response().end("data: " + new JsonObject().put("error", new JsonObject()
                .put("message", e.getMessage()).put("type", "server_error").put("code", "stream_failed")).encode()
                + "\n\ndata: [DONE]\n\n");
          }
        });
  }

  private void writeChunk(RoutingContext ctx, String id, CompletionRequest request, String text, String finishReason,
      JsonObject adapter, long started) {
    if (ctx.response().ended() || ctx.response().closed()) {
      return;
    }
    if (!ctx.response().headWritten()) {
      metrics.gatewayTimeToFirstTokenSeconds.observe((System.nanoTime() - started) / 1e9);
      ctx.response().setStatusCode(200).setChunked(true)
          .putHeader("Content-Type", "text/event-stream").putHeader("Cache-Control", "no-cache");
    }
    JsonObject chunk = new JsonObject()
        .put("id", id)
        .put("object", "text_completion")
        .put("created", System.currentTimeMillis() / 1000)
        .put("model", request.model())
        .put("choices", new JsonArray().add(new JsonObject()
            .put("text", text).put("index", 0).putNull("logprobs").put("finish_reason", finishReason)))
        .put("adapter", adapter);
    ctx.response().write("data: " + chunk.encode() + "\n\n");
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

  private static JsonObject body(String id, CompletionRequest request, Completion completion, JsonObject adapter) {
    int completionTokens = completion.tokenIds().length;
    return new JsonObject()
        .put("id", id)
        .put("object", "text_completion")
        .put("created", System.currentTimeMillis() / 1000)
        .put("model", request.model())
        .put("choices", new JsonArray().add(new JsonObject()
            .put("text", completion.text())
            .put("index", 0)
            .put("logprobs", logprobs(completion))
            .put("finish_reason", completion.finishReason())))
        .put("usage", new JsonObject()
            .put("prompt_tokens", completion.promptTokens())
            .put("completion_tokens", completionTokens)
            .put("total_tokens", completion.promptTokens() + completionTokens))
        .put("adapter", adapter);
  }

  /** OpenAI's legacy completions shape: tokens, token_logprobs, top_logprobs. */
  private static JsonObject logprobs(Completion completion) {
    if (completion.logprobs() == null) {
      return null;
    }
    JsonArray tokens = new JsonArray();
    JsonArray tokenLogprobs = new JsonArray();
    JsonArray top = new JsonArray();
    for (TokenLogprob t : completion.logprobs()) {
      tokens.add(t.token());
      tokenLogprobs.add(t.logprob());
      JsonObject alternatives = new JsonObject();
      t.top().forEach(a -> alternatives.put(a.token(), a.logprob()));
      top.add(alternatives);
    }
    return new JsonObject().put("tokens", tokens).put("token_logprobs", tokenLogprobs).put("top_logprobs", top);
  }
}
