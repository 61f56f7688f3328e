package io.lorastream.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.lorastream.kafka.TopicAdmin;
import io.lorastream.kafka.Topics;
import io.lorastream.metrics.Metrics;
import io.lorastream.model.BaseModel;
import io.lorastream.model.TinyModelFactory;
import io.lorastream.testing.EmbeddedKafkaExtension;
import io.lorastream.testing.Snapshots;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A restarted gateway reports ready only once it has caught up with the adapters topic, and then
 * serves the versions its predecessor served (and what was published while it was down). Started
 * while Kafka is away, it stays unready (503, catching-up) until Kafka is back and it has caught up.
 */
class GatewayRestartTest {
  @RegisterExtension
  static final EmbeddedKafkaExtension KAFKA = new EmbeddedKafkaExtension();

  private static final String KEY = "ls-restart-admin";

  @TempDir
  Path modelDir;

  @Test
  void restartedGatewayIsReadyOnlyOnceCaughtUpAndServesTheSameVersions() throws Exception {
    TinyModelFactory.create(modelDir, 13);
    Topics topics = new Topics("restart.");
    TopicAdmin.ensureTopics(KAFKA.settings(), topics);
    String adapters = topics.adapters().name();
    try (BaseModel base = BaseModel.load(modelDir)) {
      for (int version = 1; version <= 3; version++) {
        Snapshots.publish(KAFKA.settings(), adapters, Snapshots.of(base, "acme", version, version));
        Snapshots.publish(KAFKA.settings(), adapters, Snapshots.of(base, "globex", version, 10 + version));
      }
      Snapshots.publish(KAFKA.settings(), adapters, Snapshots.of(base, "initech", 1, 21));

      Map<String, Long> before;
      try (Gateway first = start(base, topics)) {
        assertThat(first.awaitReady(Duration.ofSeconds(60))).isTrue();
        before = servedVersions(first);
        assertThat(before).isEqualTo(Map.of("acme", 3L, "globex", 3L, "initech", 1L));
      }

      // Restarted: ready means caught up, so the first 200 already serves every version.
      try (Gateway second = start(base, topics)) {
        HttpResponse<String> ready = awaitReadyResponse(second, Duration.ofSeconds(60));
        assertThat(new JsonObject(ready.body()).getString("status")).isEqualTo("ready");
        assertThat(servedVersions(second)).isEqualTo(before);
        assertThat(completionVersion(second, "acme")).isEqualTo(3);
      }

      // Started while Kafka is away, with a version published while no gateway ran: unready until caught up.
      Snapshots.publish(KAFKA.settings(), adapters, Snapshots.of(base, "acme", 4, 4));
      KAFKA.stop();
      try (Gateway third = start(base, topics)) {
        for (int i = 0; i < 6; i++) {
          HttpResponse<String> unready = get(third, "/readyz");
          assertThat(unready.statusCode()).isEqualTo(503);
          assertThat(new JsonObject(unready.body()).getString("status")).isEqualTo("catching-up");
          assertThat(servedVersions(third)).isEmpty();
          Thread.sleep(500);
        }
        KAFKA.restart();
        HttpResponse<String> ready = awaitReadyResponse(third, Duration.ofSeconds(90));
        assertThat(new JsonObject(ready.body()).getString("status")).isEqualTo("ready");
        assertThat(servedVersions(third)).isEqualTo(Map.of("acme", 4L, "globex", 3L, "initech", 1L));
        assertThat(completionVersion(third, "acme")).isEqualTo(4);
      }
    }
  }

  private static Gateway start(BaseModel base, Topics topics) {
    return Gateway.start(base, KAFKA.settings(), topics, GatewaySettings.defaults().withPort(0),
        ApiKeys.of(List.of(ApiKeys.entry("ops", null, KEY))), Metrics.create());
  }

  /** Polls {@code /readyz} every 20 ms; every answer before the first 200 must be 503. */
  private static HttpResponse<String> awaitReadyResponse(Gateway gateway, Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      HttpResponse<String> response = get(gateway, "/readyz");
      if (response.statusCode() == 200) {
        return response;
      }
      assertThat(response.statusCode()).isEqualTo(503);
      assertThat(System.nanoTime()).as("ready within %s", timeout).isLessThan(deadline);
      Thread.sleep(20);
    }
  }

  /** Tenant → version, from {@code GET /v1/models} (the base model left out). */
  private static Map<String, Long> servedVersions(Gateway gateway) throws Exception {
    HttpResponse<String> response = get(gateway, "/v1/models");
    assertThat(response.statusCode()).isEqualTo(200);
    JsonArray models = new JsonObject(response.body()).getJsonArray("data");
    Map<String, Long> versions = new TreeMap<>();
    for (int i = 0; i < models.size(); i++) {
      JsonObject model = models.getJsonObject(i);
      if (model.getValue("version") != null) {
        versions.put(model.getString("id"), model.getLong("version"));
      }
    }
    return versions;
  }

  private static long completionVersion(Gateway gateway, String tenant) throws Exception {
    HttpResponse<String> response = HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gateway.port() + "/v1/completions"))
            .header("Authorization", "Bearer " + KEY).header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(new JsonObject().put("model", tenant).put("prompt", "Hi")
                .put("max_tokens", 2).encode()))
            .build(), HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    return new JsonObject(response.body()).getJsonObject("adapter").getLong("version");
  }

  private static HttpResponse<String> get(Gateway gateway, String path) throws Exception {
    return HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gateway.port() + path))
            .header("Authorization", "Bearer " + KEY).build(),
        HttpResponse.BodyHandlers.ofString());
  }
}
