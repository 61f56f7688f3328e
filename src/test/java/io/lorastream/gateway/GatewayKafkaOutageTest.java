package io.lorastream.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.lorastream.kafka.TopicAdmin;
import io.lorastream.kafka.Topics;
import io.lorastream.metrics.Metrics;
import io.lorastream.model.BaseModel;
import io.lorastream.model.TinyModelFactory;
import io.lorastream.testing.EmbeddedKafkaExtension;
import io.lorastream.testing.Snapshots;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** With the broker stopped, the gateway keeps serving its last good adapters, and catches up after. */
class GatewayKafkaOutageTest {
  @RegisterExtension
  static final EmbeddedKafkaExtension KAFKA = new EmbeddedKafkaExtension();

  @TempDir
  Path modelDir;

  @Test
  void servesLastGoodAdaptersWhileKafkaIsAwayAndFollowsAgainAfter() throws Exception {
    TinyModelFactory.create(modelDir, 9);
    Topics topics = new Topics("outage.");
    TopicAdmin.ensureTopics(KAFKA.settings(), topics);
    String key = "ls-outage-key";
    try (BaseModel base = BaseModel.load(modelDir)) {
      Snapshots.publish(KAFKA.settings(), topics.adapters().name(), Snapshots.of(base, "acme", 1, 1));
      try (Gateway gateway = Gateway.start(base, KAFKA.settings(), topics,
          GatewaySettings.defaults().withPort(0), ApiKeys.of(List.of(ApiKeys.entry("ops", null, key))),
          Metrics.create())) {
        assertThat(gateway.awaitReady(Duration.ofSeconds(30))).isTrue();
        assertThat(completionVersion(gateway, key)).isEqualTo(1);

        assertThat(new JsonObject(get(gateway, "/readyz").body()).getString("status")).isEqualTo("ready");
        KAFKA.stop();
        // Kafka's absence shows within a few seconds; every completion meanwhile is served.
        long degradedBy = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        String readiness = readiness(gateway);
        while (!readiness.equals("degraded") && System.nanoTime() < degradedBy) {
          assertThat(completionVersion(gateway, key)).isEqualTo(1);
          Thread.sleep(250);
          readiness = readiness(gateway);
        }
        assertThat(readiness).isEqualTo("degraded");
        for (int i = 0; i < 4; i++) {
          assertThat(completionVersion(gateway, key)).isEqualTo(1);
          assertThat(readiness(gateway)).isEqualTo("degraded");
          Thread.sleep(250);
        }

        KAFKA.restart();
        Snapshots.publish(KAFKA.settings(), topics.adapters().name(), Snapshots.of(base, "acme", 2, 2));
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (gateway.store().get("acme").orElseThrow().version() < 2 && System.nanoTime() < deadline) {
          Thread.sleep(100);
        }
        assertThat(completionVersion(gateway, key)).isEqualTo(2);
        // The next probe (within about a second) finds Kafka again.
        long readyBy = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (!readiness(gateway).equals("ready") && System.nanoTime() < readyBy) {
          Thread.sleep(100);
        }
        assertThat(readiness(gateway)).isEqualTo("ready");
      }
    }
  }

  private static long completionVersion(Gateway gateway, String key) throws Exception {
    HttpResponse<String> response = HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gateway.port() + "/v1/completions"))
            .header("Authorization", "Bearer " + key).header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"acme\",\"prompt\":\"Hi\",\"max_tokens\":2}"))
            .build(), HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    return new JsonObject(response.body()).getJsonObject("adapter").getLong("version");
  }

  /** The /readyz status, which must stay 200 whether Kafka answers or not. */
  private static String readiness(Gateway gateway) throws Exception {
    HttpResponse<String> ready = get(gateway, "/readyz");
    assertThat(ready.statusCode()).isEqualTo(200);
    return new JsonObject(ready.body()).getString("status");
  }

  private static HttpResponse<String> get(Gateway gateway, String path) throws Exception {
    return HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gateway.port() + path)).build(),
        HttpResponse.BodyHandlers.ofString());
  }
}
