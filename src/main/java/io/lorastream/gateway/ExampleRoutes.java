package io.lorastream.gateway;

import io.lorastream.avro.TrainingExample;
import io.lorastream.contract.ExampleRules;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import org.apache.kafka.clients.producer.RecordMetadata;

/**
 * {@code POST /v1/examples}: one example object, or {@code {"examples": [...]}}. All are validated
 * first (any invalid one refuses the whole request with its index and reason); then each is
 * produced to the examples topic and the answer, 202, gives its partition and offset.
 */
final class ExampleRoutes {
  static final int MAX_EXAMPLES_PER_REQUEST = 1000;

  private final ExampleSink sink;
  private final RateLimiter limiter;

  ExampleRoutes(ExampleSink sink, RateLimiter limiter) {
    this.sink = sink;
    this.limiter = limiter;
  }

  void post(RoutingContext ctx) {
    Principal principal = AuthHandler.principal(ctx);
    JsonObject body = Responses.jsonBody(ctx);
    JsonArray items = body.containsKey("examples") ? arrayOf(body.getValue("examples")) : new JsonArray().add(body);
    if (items.isEmpty() || items.size() > MAX_EXAMPLES_PER_REQUEST) {
      throw ApiException.badRequest("invalid_examples_count",
          "send between 1 and " + MAX_EXAMPLES_PER_REQUEST + " examples, got " + items.size());
    }
    List<TrainingExample> examples = new ArrayList<>(items.size());
    for (int i = 0; i < items.size(); i++) {
      if (!(items.getValue(i) instanceof JsonObject item)) {
        throw ApiException.badRequest("invalid_type", "examples[" + i + "] must be an object");
      }
      TrainingExample example = parse(item, principal, i);
      AuthHandler.requireAccess(ctx, example.getTenant());
      Optional<String> violation = ExampleRules.violation(null, example);
      if (violation.isPresent()) {
        throw ApiException.badRequest(ExampleRules.code(violation.get()).replace('-', '_'),
            "examples[" + i + "]: " + violation.get());
      }
      examples.add(example);
    }
    // One request counts once against each tenant it carries examples for.
    for (String tenant : examples.stream().map(TrainingExample::getTenant).distinct().toList()) {
      long wait = limiter.tryAcquire(tenant);
      if (wait > 0) {
        throw new ApiException(429, "rate_limit_error", "rate_limited",
            "too many requests for tenant '" + tenant + "'; retry in " + wait + " s", (int) wait);
      }
    }
    List<CompletableFuture<RecordMetadata>> acks = examples.stream().map(sink::send).toList();
    Future.fromCompletionStage(CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)),
            ctx.vertx().getOrCreateContext())
        .onSuccess(v -> {
          JsonArray results = new JsonArray();
          for (int i = 0; i < examples.size(); i++) {
            RecordMetadata m = acks.get(i).join();
            results.add(new JsonObject().put("id", examples.get(i).getId()).put("tenant", examples.get(i).getTenant())
                .put("partition", m.partition()).put("offset", m.offset()));
          }
          Responses.json(ctx, 202, new JsonObject().put("accepted", examples.size()).put("examples", results));
        })
        .onFailure(e -> ctx.fail(new ApiException(503, "unavailable_error", "kafka_unavailable",
            "the examples could not be stored: " + e.getMessage(), 5)));
  }

  private static TrainingExample parse(JsonObject item, Principal principal, int index) {
    String tenant = optionalString(item, "tenant", index);
    if (tenant == null) {
      if (principal.admin()) {
        throw ApiException.badRequest("missing_field", "examples[" + index + "].tenant is required with an admin key");
      }
      tenant = principal.tenant();
    }
    String id = optionalString(item, "id", index);
    Object weight = item.getValue("weight", 1.0);
    if (!(weight instanceof Number w)) {
      throw ApiException.badRequest("invalid_type", "examples[" + index + "].weight must be a number");
    }
    Map<String, String> metadata = new HashMap<>();
    Object meta = item.getValue("metadata");
    if (meta != null) {
      if (!(meta instanceof JsonObject m)) {
        throw ApiException.badRequest("invalid_type", "examples[" + index + "].metadata must be an object");
      }
      m.forEach(e -> metadata.put(e.getKey(), String.valueOf(e.getValue())));
    }
    return TrainingExample.newBuilder()
        .setId(id != null ? id : UUID.randomUUID().toString())
        .setTenant(tenant)
        .setPrompt(requiredString(item, "prompt", index))
        .setCompletion(requiredString(item, "completion", index))
        .setWeight(w.floatValue())
        .setEventTime(Instant.now())
        .setMetadata(metadata)
        .build();
  }

  private static JsonArray arrayOf(Object value) {
    if (!(value instanceof JsonArray array)) {
      throw ApiException.badRequest("invalid_type", "'examples' must be an array");
    }
    return array;
  }

  private static String requiredString(JsonObject item, String field, int index) {
    String value = optionalString(item, field, index);
    if (value == null) {
      throw ApiException.badRequest("missing_field", "examples[" + index + "]." + field + " is required");
    }
    return value;
  }

  private static String optionalString(JsonObject item, String field, int index) {
    Object value = item.getValue(field);
    if (value != null && !(value instanceof String)) {
      throw ApiException.badRequest("invalid_type", "examples[" + index + "]." + field + " must be a string");
    }
    return (String) value;
  }
}
