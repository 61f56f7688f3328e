package io.lorastream.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.lorastream.avro.AdapterSnapshot;
import io.lorastream.avro.InferenceRequest;
import io.lorastream.avro.InferenceResponse;
import io.lorastream.avro.TrainingExample;
import io.lorastream.contract.AvroCodec;
import io.lorastream.contract.Sha256;
import io.lorastream.kafka.TopicAdmin;
import io.lorastream.kafka.Topics;
import io.lorastream.metrics.Metrics;
import io.lorastream.model.BaseModel;
import io.lorastream.model.TinyModelFactory;
import io.lorastream.testing.EmbeddedKafkaExtension;
import io.lorastream.testing.Snapshots;
import io.lorastream.testing.TopicProbe;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** The HTTP and Kafka APIs of a running gateway: answers, auth, errors as JSON with the right status. */
class GatewayHttpTest {
  @RegisterExtension
  static final EmbeddedKafkaExtension KAFKA = new EmbeddedKafkaExtension();

  static final String ACME_KEY = "ls-acme-test-key";
  static final String GLOBEX_KEY = "ls-globex-test-key";
  static final String ADMIN_KEY = "ls-admin-test-key";

  @TempDir
  static Path modelDir;
  @TempDir
  static Path adapterDir;
  static BaseModel base;
  static Gateway gateway;
  static final Topics topics = new Topics("http.");
  static final HttpClient HTTP = HttpClient.newHttpClient();

  @BeforeAll
  static void start() throws Exception {
    TinyModelFactory.create(modelDir, 5);
    base = BaseModel.load(modelDir);
    TopicAdmin.ensureTopics(KAFKA.settings(), topics);
    publish(snapshot("acme", 1, 1));
    publish(snapshot("acme", 2, 2));
    publish(snapshot("globex", 1, 3));
    GatewaySettings settings = new GatewaySettings("127.0.0.1", 0, 4096, 1000, 64, 8, 16, 8, 1000, 1000,
        adapterDir, 1 << 20, 2);
    ApiKeys keys = ApiKeys.of(List.of(ApiKeys.entry("acme-app", "acme", ACME_KEY),
        ApiKeys.entry("globex-app", "globex", GLOBEX_KEY), ApiKeys.entry("ops", null, ADMIN_KEY)));
    gateway = Gateway.start(base, KAFKA.settings(), topics, settings, keys, Metrics.create());
    assertThat(gateway.awaitReady(Duration.ofSeconds(30))).isTrue();
    assertThat(gateway.store().get("acme")).hasValueSatisfying(a -> assertThat(a.version()).isEqualTo(2));
  }

  @AfterAll
  static void stop() {
    gateway.close();
    base.close();
  }

  static AdapterSnapshot snapshot(String tenant, long version, long seed) {
    return Snapshots.of(base, tenant, version, seed);
  }

  static void publish(AdapterSnapshot snapshot) {
    Snapshots.publish(KAFKA.settings(), topics.adapters().name(), snapshot);
  }

  static void send(String topic, String key, byte[] value) {
    Snapshots.send(KAFKA.settings(), topic, key, value);
  }

  private static HttpResponse<String> post(String path, String key, String body) throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gateway.port() + path))
        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body));
    if (key != null) {
      request.header("Authorization", "Bearer " + key);
    }
    return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static HttpResponse<String> get(String path, String key) throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gateway.port() + path));
    if (key != null) {
      request.header("Authorization", "Bearer " + key);
    }
    return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static void assertError(HttpResponse<String> response, int status, String code) {
    assertThat(response.statusCode()).as(response.body()).isEqualTo(status);
    assertThat(response.headers().firstValue("Content-Type")).hasValue("application/json");
    JsonObject error = new JsonObject(response.body()).getJsonObject("error");
    assertThat(error.getString("code")).isEqualTo(code);
    assertThat(error.getString("message")).isNotBlank();
    assertThat(error.getString("type")).isNotBlank();
  }

  @Test
  void tenantCompletesWithItsNewestAdapter() throws Exception {
    HttpResponse<String> response = post("/v1/completions", ACME_KEY,
        "{\"model\":\"acme\",\"prompt\":\"Hello\",\"max_tokens\":4}");
    assertThat(response.statusCode()).isEqualTo(200);
    JsonObject body = new JsonObject(response.body());
    assertThat(body.getString("object")).isEqualTo("text_completion");
    assertThat(body.getJsonObject("adapter")).isEqualTo(new JsonObject().put("tenant", "acme").put("version", 2));
    assertThat(response.headers().firstValue("X-Adapter-Version")).hasValue("2");
    assertThat(body.getJsonArray("choices").getJsonObject(0).getString("finish_reason")).isIn("stop", "length");
  }

  @Test
  void pinnedVersionIsServedWhileHeld() throws Exception {
    HttpResponse<String> pinned = post("/v1/completions", ACME_KEY, "{\"model\":\"acme@1\",\"prompt\":\"Hi\",\"max_tokens\":2}");
    assertThat(pinned.statusCode()).isEqualTo(200);
    assertThat(pinned.headers().firstValue("X-Adapter-Version")).hasValue("1");
    assertError(post("/v1/completions", ACME_KEY, "{\"model\":\"acme@7\",\"prompt\":\"Hi\"}"), 404, "version_not_found");
  }

  @Test
  void baseModelCompletesWithoutAnAdapterAndAcceptsTokenIds() throws Exception {
    HttpResponse<String> response = post("/v1/completions", GLOBEX_KEY,
        "{\"model\":\"base\",\"prompt\":[1, 72, 105],\"max_tokens\":3}");
    assertThat(response.statusCode()).isEqualTo(200);
    JsonObject body = new JsonObject(response.body());
    assertThat(body.getValue("adapter")).isNull();
    assertThat(body.getJsonObject("usage").getInteger("prompt_tokens")).isEqualTo(3);
    assertError(post("/v1/completions", GLOBEX_KEY, "{\"model\":\"base\",\"prompt\":[1, 99999]}"), 400,
        "invalid_prompt");
  }

  @Test
  void keysAreRequiredAndReachOnlyTheirTenant() throws Exception {
    assertError(post("/v1/completions", null, "{\"model\":\"acme\",\"prompt\":\"hi\"}"), 401, "invalid_api_key");
    assertError(post("/v1/completions", "ls-wrong", "{\"model\":\"acme\",\"prompt\":\"hi\"}"), 401, "invalid_api_key");
    assertError(post("/v1/completions", GLOBEX_KEY, "{\"model\":\"acme\",\"prompt\":\"hi\"}"), 403, "forbidden");
    assertError(get("/v1/adapters/acme", GLOBEX_KEY), 403, "forbidden");
    assertError(get("/v1/adapters/acme/peft", GLOBEX_KEY), 403, "forbidden");
    assertError(post("/v1/examples", GLOBEX_KEY,
        "{\"tenant\":\"acme\",\"prompt\":\"p\",\"completion\":\"c\"}"), 403, "forbidden");
    assertThat(post("/v1/completions", ADMIN_KEY, "{\"model\":\"acme\",\"prompt\":\"hi\",\"max_tokens\":1}")
        .statusCode()).isEqualTo(200);
  }

  @Test
  void modelsListsOnlyWhatTheKeyReaches() throws Exception {
    JsonArray forGlobex = new JsonObject(get("/v1/models", GLOBEX_KEY).body()).getJsonArray("data");
    assertThat(forGlobex.stream().map(m -> ((JsonObject) m).getString("id"))).containsExactly("base", "globex");
    JsonArray forAcme = new JsonObject(get("/v1/models", ACME_KEY).body()).getJsonArray("data");
    assertThat(forAcme.stream().map(m -> ((JsonObject) m).getString("id"))).containsExactly("base", "acme");
    JsonArray forAdmin = new JsonObject(get("/v1/models", ADMIN_KEY).body()).getJsonArray("data");
    assertThat(forAdmin.stream().map(m -> ((JsonObject) m).getString("id"))).containsExactly("base", "acme", "globex");
    assertThat(forAcme.getJsonObject(1).getLong("version")).isEqualTo(2);
  }

  @Test
  void adapterMetadataAndPeftZip() throws Exception {
    JsonObject meta = new JsonObject(get("/v1/adapters/acme", ACME_KEY).body());
    assertThat(meta.getLong("version")).isEqualTo(2);
    assertThat(meta.getString("base_model_sha256")).isEqualTo(base.weightsSha256());
    assertThat(meta.getLong("examples_seen")).isEqualTo(20);

    HttpResponse<byte[]> zip = HTTP.send(HttpRequest.newBuilder(
            URI.create("http://127.0.0.1:" + gateway.port() + "/v1/adapters/acme/peft"))
        .header("Authorization", "Bearer " + ACME_KEY).build(), HttpResponse.BodyHandlers.ofByteArray());
    assertThat(zip.statusCode()).isEqualTo(200);
    Map<String, byte[]> files = new HashMap<>();
    try (ZipInputStream in = new ZipInputStream(new ByteArrayInputStream(zip.body()))) {
      for (ZipEntry e; (e = in.getNextEntry()) != null; ) {
        files.put(e.getName(), in.readAllBytes());
      }
    }
    assertThat(files).containsOnlyKeys("adapter_config.json", "adapter_model.safetensors");
    assertThat(Sha256.hex(files.get("adapter_model.safetensors"))).isEqualTo(meta.getString("weights_sha256"));
    JsonObject config = new JsonObject(new String(files.get("adapter_config.json"), StandardCharsets.UTF_8));
    assertThat(config.getString("peft_type")).isEqualTo("LORA");
    assertThat(config.getInteger("r")).isEqualTo(8);
    assertError(get("/v1/adapters/nobody", ADMIN_KEY), 404, "adapter_not_found");
  }

  @Test
  void examplesAreProducedToTheExamplesTopic() throws Exception {
    HttpResponse<String> response = post("/v1/examples", ACME_KEY,
        "{\"examples\":[{\"id\":\"http-1\",\"prompt\":\"Q?\",\"completion\":\" A.\"},"
            + "{\"id\":\"http-2\",\"prompt\":\"Q2?\",\"completion\":\" B.\",\"weight\":2}]}");
    assertThat(response.statusCode()).as(response.body()).isEqualTo(202);
    JsonObject body = new JsonObject(response.body());
    assertThat(body.getInteger("accepted")).isEqualTo(2);
    assertThat(body.getJsonArray("examples").getJsonObject(0).getLong("offset")).isNotNull();
    List<ConsumerRecord<String, byte[]>> records = TopicProbe.readUntil(KAFKA.settings(), topics.examples().name(),
        r -> r.stream().filter(x -> "acme".equals(x.key())).count() >= 2, Duration.ofSeconds(20));
    List<TrainingExample> examples = records.stream().map(r -> AvroCodec.TRAINING_EXAMPLE.decode(r.value())).toList();
    assertThat(examples).extracting(TrainingExample::getId).contains("http-1", "http-2");
    assertThat(examples).filteredOn(e -> e.getId().equals("http-2")).singleElement()
        .satisfies(e -> assertThat(e.getWeight()).isEqualTo(2f));

    assertError(post("/v1/examples", ACME_KEY, "{\"prompt\":\"\",\"completion\":\"c\"}"), 400, "empty_prompt");
    assertError(post("/v1/examples", ACME_KEY, "{\"prompt\":\"p\",\"completion\":\"c\",\"weight\":50}"), 400,
        "invalid_weight");
    assertError(post("/v1/examples", ADMIN_KEY, "{\"prompt\":\"p\",\"completion\":\"c\"}"), 400, "missing_field");
  }

  private static double metricValue(String exposition, String series) {
    return exposition.lines().filter(l -> l.startsWith(series + " ")).mapToDouble(
        l -> Double.parseDouble(l.substring(series.length() + 1).trim())).findFirst()
        .orElseThrow(() -> new AssertionError("no series " + series));
  }

  private static String text(HttpResponse<String> response) {
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    return new JsonObject(response.body()).getJsonArray("choices").getJsonObject(0).getString("text");
  }

  @Test
  void concurrentRequestsOfManyTenantsGetWhatEachWouldGetAlone() throws Exception {
    List<String> bodies = List.of(
        "{\"model\":\"acme\",\"prompt\":\"Question: When is support open?\\nAnswer:\",\"max_tokens\":12}",
        "{\"model\":\"globex\",\"prompt\":\"Hello there\",\"max_tokens\":9}",
        "{\"model\":\"base\",\"prompt\":\"Shipping\",\"max_tokens\":15}",
        "{\"model\":\"acme@1\",\"prompt\":\"Where is my order? It was due\",\"max_tokens\":7}");
    List<String> alone = new java.util.ArrayList<>();
    for (String body : bodies) {
      alone.add(text(post("/v1/completions", ADMIN_KEY, body)));
    }
    List<java.util.concurrent.CompletableFuture<HttpResponse<String>>> together = new java.util.ArrayList<>();
    for (int round = 0; round < 3; round++) {
      for (String body : bodies) {
        together.add(HTTP.sendAsync(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + gateway.port() + "/v1/completions"))
            .header("Authorization", "Bearer " + ADMIN_KEY).header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString()));
      }
    }
    for (int i = 0; i < together.size(); i++) {
      assertThat(text(together.get(i).get())).as("request %d", i).isEqualTo(alone.get(i % bodies.size()));
    }
    // Some steps decoded more than one request: the batch-rows histogram has counts above le=1.
    String metrics = get("/metrics", null).body();
    double single = metricValue(metrics, "lorastream_gateway_batch_rows_bucket{le=\"1.0\"}");
    double all = metricValue(metrics, "lorastream_gateway_batch_rows_count");
    assertThat(all).isGreaterThan(single);
    // The model thread timed its work: every step, and fewer prefills than requests (prompts that
    // arrived together were admitted together) but at least one.
    assertThat(metricValue(metrics, "lorastream_gateway_engine_seconds_count{phase=\"decode\"}")).isEqualTo(all);
    double prefills = metricValue(metrics, "lorastream_gateway_engine_seconds_count{phase=\"prefill\"}");
    assertThat(prefills).isGreaterThanOrEqualTo(1);
    assertThat(metricValue(metrics, "lorastream_gateway_engine_seconds_sum{phase=\"decode\"}")).isGreaterThan(0);
  }

  @Test
  void streamedDeltasAddUpToTheCompletionAndEndWithDone() throws Exception {
    String body = "{\"model\":\"acme\",\"prompt\":\"Question: How much is shipping?\\nAnswer:\",\"max_tokens\":20";
    String whole = text(post("/v1/completions", ACME_KEY, body + "}"));
    HttpResponse<String> response = post("/v1/completions", ACME_KEY, body + ",\"stream\":true}");
    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("text/event-stream"));
    assertThat(response.headers().firstValue("X-Adapter-Version")).hasValue("2");
    List<String> events = java.util.Arrays.stream(response.body().split("\n\n"))
        .filter(e -> !e.isBlank()).toList();
    assertThat(events).allSatisfy(e -> assertThat(e).startsWith("data: "));
    assertThat(events.get(events.size() - 1)).isEqualTo("data: [DONE]");
    StringBuilder streamed = new StringBuilder();
    String finish = null;
    for (String e : events.subList(0, events.size() - 1)) {
      JsonObject choice = new JsonObject(e.substring(6)).getJsonArray("choices").getJsonObject(0);
      streamed.append(choice.getString("text"));
      finish = choice.getString("finish_reason");
    }
    assertThat(events.size()).isGreaterThan(2);
    assertThat(streamed.toString()).isEqualTo(whole);
    assertThat(finish).isIn("stop", "length");
  }

  @Test
  void seededSamplingRepeatsAndStopSequencesAndLogprobsWork() throws Exception {
    String sampled = "{\"model\":\"acme\",\"prompt\":\"Hello\",\"max_tokens\":16,\"temperature\":1.0,"
        + "\"top_p\":0.9,\"seed\":7}";
    assertThat(text(post("/v1/completions", ACME_KEY, sampled))).isEqualTo(text(post("/v1/completions", ACME_KEY, sampled)));

    String greedy = text(post("/v1/completions", ACME_KEY, "{\"model\":\"acme\",\"prompt\":\"Hello\",\"max_tokens\":16}"));
    if (greedy.length() > 3) {
      String stop = greedy.substring(2, 4);
      JsonObject stopped = new JsonObject(post("/v1/completions", ACME_KEY,
          "{\"model\":\"acme\",\"prompt\":\"Hello\",\"max_tokens\":16,\"stop\":" + new JsonArray().add(stop).encode()
              + "}").body());
      JsonObject choice = stopped.getJsonArray("choices").getJsonObject(0);
      assertThat(choice.getString("text")).isEqualTo(greedy.substring(0, greedy.indexOf(stop)));
      assertThat(choice.getString("finish_reason")).isEqualTo("stop");
    }

    JsonObject withLogprobs = new JsonObject(post("/v1/completions", ACME_KEY,
        "{\"model\":\"acme\",\"prompt\":\"Hello\",\"max_tokens\":4,\"logprobs\":2}").body());
    JsonObject logprobs = withLogprobs.getJsonArray("choices").getJsonObject(0).getJsonObject("logprobs");
    int tokens = withLogprobs.getJsonObject("usage").getInteger("completion_tokens");
    assertThat(logprobs.getJsonArray("token_logprobs").size()).isEqualTo(tokens);
    assertThat(logprobs.getJsonArray("token_logprobs").stream().map(v -> ((Number) v).doubleValue()))
        .allSatisfy(lp -> assertThat(lp).isLessThanOrEqualTo(0.0));
    assertThat(logprobs.getJsonArray("top_logprobs").getJsonObject(0).size()).isBetween(1, 2);

    assertError(post("/v1/completions", ACME_KEY, "{\"model\":\"acme\",\"prompt\":\"Hi\",\"temperature\":5}"), 400,
        "invalid_temperature");
    assertError(post("/v1/completions", ACME_KEY, "{\"model\":\"acme\",\"prompt\":\"Hi\",\"stop\":[\"\"]}"), 400,
        "invalid_stop");
  }

  @Test
  void malformedJsonIs400() throws Exception {
    assertError(post("/v1/completions", ACME_KEY, "{\"model\": "), 400, "invalid_json");
    assertError(post("/v1/completions", ACME_KEY, "[1, 2]"), 400, "invalid_json");
  }

  @Test
  void wrongTypesAndMissingFieldsAre400() throws Exception {
    assertError(post("/v1/completions", ACME_KEY, "{\"prompt\":\"hi\"}"), 400, "missing_field");
    assertError(post("/v1/completions", ACME_KEY, "{\"model\":\"base\",\"prompt\":5}"), 400, "invalid_type");
    assertError(post("/v1/completions", ACME_KEY, "{\"model\":\"base\",\"prompt\":\"hi\",\"max_tokens\":\"many\"}"),
        400, "invalid_type");
    assertError(post("/v1/completions", ACME_KEY, "{\"model\":\"Not A Tenant\",\"prompt\":\"hi\"}"), 400,
        "invalid_model");
  }

  @Test
  void tooManyTokensOrTooLongPromptIs400() throws Exception {
    assertError(post("/v1/completions", ACME_KEY, "{\"model\":\"base\",\"prompt\":\"hi\",\"max_tokens\":65}"), 400,
        "max_tokens_out_of_range");
    assertError(post("/v1/completions", ACME_KEY, "{\"model\":\"base\",\"prompt\":\"" + "a".repeat(1001) + "\"}"),
        400, "prompt_too_long");
  }

  @Test
  void unknownTenantIs404() throws Exception {
    assertError(post("/v1/completions", ADMIN_KEY, "{\"model\":\"nobody\",\"prompt\":\"hi\"}"), 404,
        "model_not_found");
  }

  @Test
  void tooLargeBodyIs413() throws Exception {
    assertError(post("/v1/completions", ACME_KEY, "{\"model\":\"base\",\"prompt\":\"" + "a".repeat(5000) + "\"}"),
        413, "body_too_large");
  }

  @Test
  void unknownRouteIs404Json() throws Exception {
    assertError(get("/v2/nothing", null), 404, "route_not_found");
  }

  @Test
  void healthReadinessAndMetricsNeedNoKey() throws Exception {
    assertThat(get("/healthz", null).statusCode()).isEqualTo(200);
    assertThat(get("/readyz", null).statusCode()).isEqualTo(200);
    post("/v1/completions", ADMIN_KEY, "{\"model\":\"nobody\",\"prompt\":\"hi\"}");
    HttpResponse<String> metrics = get("/metrics", null);
    assertThat(metrics.statusCode()).isEqualTo(200);
    assertThat(metrics.body()).contains("lorastream_gateway_requests_total{route=\"completions\",status=\"404\"}");
  }

  @Test
  void inferenceRequestsOnKafkaAreAnsweredOnTheResponsesTopic() {
    InferenceRequest request = InferenceRequest.newBuilder().setRequestId("req-1").setTenant("acme")
        .setPrompt("Hello").setMaxTokens(3).setCreatedAt(Instant.now()).build();
    send(topics.inferenceRequests().name(), "acme", AvroCodec.INFERENCE_REQUEST.encode(request));
    InferenceRequest unknown = InferenceRequest.newBuilder(request).setRequestId("req-2").setTenant("nobody").build();
    send(topics.inferenceRequests().name(), "nobody", AvroCodec.INFERENCE_REQUEST.encode(unknown));
    send(topics.inferenceRequests().name(), "acme", "garbage".getBytes(StandardCharsets.UTF_8));

    Map<String, InferenceResponse> responses = new HashMap<>();
    TopicProbe.readUntil(KAFKA.settings(), topics.inferenceResponses().name(), records -> {
      records.forEach(r -> responses.put(r.key(), AvroCodec.INFERENCE_RESPONSE.decode(r.value())));
      return responses.containsKey("req-1") && responses.containsKey("req-2");
    }, Duration.ofSeconds(30));
    assertThat(responses.get("req-1").getError()).isNull();
    assertThat(responses.get("req-1").getAdapterVersion()).isEqualTo(2L);
    assertThat(responses.get("req-1").getCompletionTokens()).isBetween(0, 3);
    assertThat(responses.get("req-2").getError()).startsWith("model_not_found");

    List<ConsumerRecord<String, byte[]>> dead = TopicProbe.readUntil(KAFKA.settings(), topics.dlq().name(),
        r -> !r.isEmpty(), Duration.ofSeconds(30));
    assertThat(new String(dead.get(0).headers().lastHeader(Topics.ERROR_HEADER).value(), StandardCharsets.UTF_8))
        .startsWith("bad-magic");
  }
}
