package io.lorastream.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.lorastream.kafka.TopicAdmin;
import io.lorastream.kafka.Topics;
import io.lorastream.metrics.Metrics;
import io.lorastream.model.BaseModel;
import io.lorastream.model.TinyModelFactory;
import io.lorastream.testing.EmbeddedKafkaExtension;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** The HTTP API of a running gateway: answers, errors as JSON with the right status, metrics. */
class GatewayHttpTest {
  @RegisterExtension
  static final EmbeddedKafkaExtension KAFKA = new EmbeddedKafkaExtension();

  @TempDir
  static Path modelDir;
  static BaseModel base;
  static Gateway gateway;
  static final HttpClient HTTP = HttpClient.newHttpClient();

  @BeforeAll
  static void start() throws Exception {
    TinyModelFactory.create(modelDir, 5);
    base = BaseModel.load(modelDir);
    Topics topics = new Topics("http.");
    TopicAdmin.ensureTopics(KAFKA.settings(), topics);
    GatewaySettings settings = new GatewaySettings("127.0.0.1", 0, 4096, 1000, 64, 8, 16);
    gateway = Gateway.start(base, KAFKA.settings(), topics, settings, Metrics.create());
    assertThat(gateway.awaitReady(Duration.ofSeconds(30))).isTrue();
  }

  @AfterAll
  static void stop() {
    gateway.close();
    base.close();
  }

  private static HttpResponse<String> post(String path, String body) throws Exception {
    return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gateway.port() + path))
        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static HttpResponse<String> get(String path) throws Exception {
    return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gateway.port() + path)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static void assertError(HttpResponse<String> response, int status, String code) {
    assertThat(response.statusCode()).isEqualTo(status);
    assertThat(response.headers().firstValue("Content-Type")).hasValue("application/json");
    JsonObject error = new JsonObject(response.body()).getJsonObject("error");
    assertThat(error.getString("code")).isEqualTo(code);
    assertThat(error.getString("message")).isNotBlank();
    assertThat(error.getString("type")).isNotBlank();
  }

  @Test
  void baseModelCompletesWithoutAnAdapter() throws Exception {
    HttpResponse<String> response = post("/v1/completions", "{\"model\":\"base\",\"prompt\":\"Hello\",\"max_tokens\":4}");
    assertThat(response.statusCode()).isEqualTo(200);
    JsonObject body = new JsonObject(response.body());
    assertThat(body.getString("object")).isEqualTo("text_completion");
    assertThat(body.getValue("adapter")).isNull();
    assertThat(body.getJsonArray("choices").getJsonObject(0).getString("finish_reason")).isIn("stop", "length");
    assertThat(body.getJsonObject("usage").getInteger("completion_tokens")).isBetween(0, 4);
  }

  @Test
  void malformedJsonIs400() throws Exception {
    assertError(post("/v1/completions", "{\"model\": "), 400, "invalid_json");
    assertError(post("/v1/completions", "[1, 2]"), 400, "invalid_json");
  }

  @Test
  void wrongTypesAndMissingFieldsAre400() throws Exception {
    assertError(post("/v1/completions", "{\"prompt\":\"hi\"}"), 400, "missing_field");
    assertError(post("/v1/completions", "{\"model\":\"base\",\"prompt\":5}"), 400, "invalid_type");
    assertError(post("/v1/completions", "{\"model\":\"base\",\"prompt\":\"hi\",\"max_tokens\":\"many\"}"), 400,
        "invalid_type");
  }

  @Test
  void tooManyTokensOrTooLongPromptIs400() throws Exception {
    assertError(post("/v1/completions", "{\"model\":\"base\",\"prompt\":\"hi\",\"max_tokens\":65}"), 400,
        "max_tokens_out_of_range");
    assertError(post("/v1/completions", "{\"model\":\"base\",\"prompt\":\"" + "a".repeat(1001) + "\"}"), 400,
        "prompt_too_long");
  }

  @Test
  void unknownTenantIs404() throws Exception {
    assertError(post("/v1/completions", "{\"model\":\"nobody\",\"prompt\":\"hi\"}"), 404, "model_not_found");
  }

  @Test
  void tooLargeBodyIs413() throws Exception {
    assertError(post("/v1/completions", "{\"model\":\"base\",\"prompt\":\"" + "a".repeat(5000) + "\"}"), 413,
        "body_too_large");
  }

  @Test
  void unknownRouteIs404Json() throws Exception {
    assertError(get("/v2/nothing"), 404, "route_not_found");
  }

  @Test
  void modelsListsTheBaseModel() throws Exception {
    HttpResponse<String> response = get("/v1/models");
    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(new JsonObject(response.body()).getJsonArray("data").getJsonObject(0).getString("id"))
        .isEqualTo("base");
  }

  @Test
  void healthReadinessAndMetrics() throws Exception {
    assertThat(get("/healthz").statusCode()).isEqualTo(200);
    assertThat(get("/readyz").statusCode()).isEqualTo(200);
    post("/v1/completions", "{\"model\":\"nobody\",\"prompt\":\"hi\"}");
    HttpResponse<String> metrics = get("/metrics");
    assertThat(metrics.statusCode()).isEqualTo(200);
    assertThat(metrics.body()).contains("lorastream_gateway_requests_total{route=\"completions\",status=\"404\"}");
  }
}
