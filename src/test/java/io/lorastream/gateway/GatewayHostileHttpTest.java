package io.lorastream.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.lorastream.kafka.TopicAdmin;
import io.lorastream.kafka.Topics;
import io.lorastream.metrics.Metrics;
import io.lorastream.model.BaseModel;
import io.lorastream.model.TinyModelFactory;
import ch.qos.logback.classic.Level;
import io.lorastream.testing.EmbeddedKafkaExtension;
import io.lorastream.testing.LogCapture;
import io.lorastream.testing.Snapshots;
import io.vertx.core.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Hostile HTTP against a running gateway, over raw sockets so that nothing a client library does
 * hides what the server answers: malformed and oddly typed bodies, huge bodies and headers, clients
 * that trickle bytes, and thousands of idle connections; and one tenant's key against every route
 * of another tenant, and API keys kept out of the logs.
 */
class GatewayHostileHttpTest {
  @RegisterExtension
  static final EmbeddedKafkaExtension KAFKA = new EmbeddedKafkaExtension();

  static final String ACME_KEY = "ls-acme-hostile-key";
  static final String GLOBEX_KEY = "ls-globex-hostile-key";
  static final int BODY_LIMIT = 4096;
  static final HttpLimits LIMITS = new HttpLimits(8192, Duration.ofSeconds(3), Duration.ofSeconds(2));

  @TempDir
  static Path modelDir;
  @TempDir
  static Path adapterDir;
  static BaseModel base;
  static Gateway gateway;

  @BeforeAll
  static void start() throws Exception {
    TinyModelFactory.create(modelDir, 5);
    base = BaseModel.load(modelDir);
    Topics topics = new Topics("hostile-http.");
    TopicAdmin.ensureTopics(KAFKA.settings(), topics);
    Snapshots.publish(KAFKA.settings(), topics.adapters().name(), Snapshots.of(base, "acme", 1, 1));
    Snapshots.publish(KAFKA.settings(), topics.adapters().name(), Snapshots.of(base, "globex", 1, 2));
    GatewaySettings settings = new GatewaySettings("127.0.0.1", 0, BODY_LIMIT, 1000, 64, 8, 16, 8, 1000, 1000,
        adapterDir, 1 << 20, 2).withHttpLimits(LIMITS);
    gateway = Gateway.start(base, KAFKA.settings(), topics, settings,
        ApiKeys.of(List.of(ApiKeys.entry("acme-app", "acme", ACME_KEY),
            ApiKeys.entry("globex-app", "globex", GLOBEX_KEY))), Metrics.create());
    assertThat(gateway.awaitReady(Duration.ofSeconds(30))).isTrue();
    assertThat(gateway.store().get("globex")).isPresent();
  }

  @AfterAll
  static void stop() {
    gateway.close();
    base.close();
  }

  static Stream<Arguments> badBodies() {
    return Stream.of(
        Arguments.of("{\"model\": ", "invalid_json"),
        Arguments.of("[1, 2]", "invalid_json"),
        Arguments.of("\"a string\"", "invalid_json"),
        Arguments.of("null", "missing_body"),
        Arguments.of("{\"model\": \"acme\", \"prompt\": \"hi\"} trailing", "invalid_json"),
        Arguments.of("[".repeat(2000), "invalid_json"),
        Arguments.of("{\"model\": \"acme\", \"prompt\": \"\\uD800\\uDC00\u0000\"", "invalid_json"),
        Arguments.of("{\"model\": 5, \"prompt\": \"hi\"}", "invalid_type"),
        Arguments.of("{\"model\": \"acme\", \"prompt\": {\"text\": \"hi\"}}", "invalid_type"),
        Arguments.of("{\"model\": \"acme\", \"prompt\": \"hi\", \"stream\": \"yes\"}", "invalid_type"),
        Arguments.of("{\"model\": \"acme\", \"prompt\": \"hi\", \"max_tokens\": 1000000000000}", "max_tokens_out_of_range"),
        Arguments.of("{\"model\": \"acme\", \"prompt\": \"hi\", \"max_tokens\": 1e400}", "max_tokens_out_of_range"),
        Arguments.of("{\"model\": \"acme\", \"prompt\": \"hi\", \"max_tokens\": -1}", "max_tokens_out_of_range"),
        Arguments.of("{\"model\": \"acme\", \"prompt\": \"hi\", \"max_tokens\": 2.5}", "invalid_type"),
        Arguments.of("{\"model\": \"acme\", \"prompt\": \"hi\", \"temperature\": \"hot\"}", "invalid_type"),
        Arguments.of("{\"model\": \"../../etc\", \"prompt\": \"hi\"}", "invalid_model"),
        Arguments.of("{\"model\": \"acme@99999999999999999999\", \"prompt\": \"hi\"}", "invalid_model"),
        Arguments.of("{\"model\": \"acme\", \"prompt\": [1, -5]}", "invalid_prompt"),
        Arguments.of("{\"model\": \"acme\", \"prompt\": []}", "invalid_prompt"));
  }

  @ParameterizedTest(name = "{1}: {0}")
  @MethodSource("badBodies")
  void malformedOrMistypedBodyIs400WithAJsonError(String body, String code) throws Exception {
    HttpAnswer answer = exchange(post("/v1/completions", body.getBytes(StandardCharsets.UTF_8)));

    assertJsonError(answer, 400, code);
  }

  @Test
  void bodyOverTheLimitIs413BeforeItIsRead() throws Exception {
    byte[] tenMegabytes = new byte[10 << 20];
    String head = "POST /v1/completions HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " + ACME_KEY
        + "\r\nContent-Type: application/json\r\nContent-Length: " + tenMegabytes.length + "\r\n\r\n";
    HttpAnswer declared = exchange(head.getBytes(StandardCharsets.US_ASCII), new byte[1024]);
    assertJsonError(declared, 413, "body_too_large");

    // Chunked: no length up front, the limit applies as the bytes arrive.
    String chunkedHead = "POST /v1/completions HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " + ACME_KEY
        + "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    ByteArrayOutputStream chunks = new ByteArrayOutputStream();
    for (int i = 0; i < 16; i++) {
      chunks.writeBytes(("400\r\n" + "a".repeat(1024) + "\r\n").getBytes(StandardCharsets.US_ASCII));
    }
    HttpAnswer chunked = exchange(chunkedHead.getBytes(StandardCharsets.US_ASCII), chunks.toByteArray());
    assertJsonError(chunked, 413, "body_too_large");
  }

  @Test
  void headersOverTheLimitAre431WithAJsonError() throws Exception {
    String head = "GET /v1/models HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " + ACME_KEY
        + "\r\nX-Padding: " + "p".repeat(20_000) + "\r\n\r\n";
    assertJsonError(exchange(head.getBytes(StandardCharsets.US_ASCII)), 431, "headers_too_large");
  }

  @Test
  void clientTricklingHeadersIsDisconnected() throws Exception {
    try (Socket socket = connect()) {
      OutputStream out = socket.getOutputStream();
      out.write("GET /v1/models HTTP/1.1\r\nHost: t\r\n".getBytes(StandardCharsets.US_ASCII));
      long start = System.nanoTime();
      boolean closed = false;
      // One header byte every 200 ms: the idle timeout alone would never fire.
      for (int i = 0; i < 60 && !closed; i++) {
        try {
          out.write('X');
          out.flush();
          Thread.sleep(200);
          closed = socket.getInputStream().available() == 0 && peekClosed(socket);
        } catch (IOException e) {
          closed = true;
        }
      }
      Duration took = Duration.ofNanos(System.nanoTime() - start);
      assertThat(closed).as("the server closed the trickling connection").isTrue();
      assertThat(took).isBetween(LIMITS.requestTimeout().minusMillis(300), LIMITS.requestTimeout().plusSeconds(5));
    }
  }

  @Test
  void clientTricklingTheBodyGets408AndIsDisconnected() throws Exception {
    try (Socket socket = connect()) {
      OutputStream out = socket.getOutputStream();
      out.write(("POST /v1/completions HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " + ACME_KEY
          + "\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{").getBytes(StandardCharsets.US_ASCII));
      out.flush();
      ByteArrayOutputStream received = new ByteArrayOutputStream();
      socket.setSoTimeout(200);
      InputStream in = socket.getInputStream();
      long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      boolean eof = false;
      while (!eof && System.nanoTime() < deadline) {
        try {
          out.write(' ');
          out.flush();
        } catch (IOException e) {
          // closed by the server; read what it said
        }
        try {
          int n = in.read();
          if (n < 0) {
            eof = true;
          } else {
            received.write(n);
            received.writeBytes(in.readNBytes(in.available()));
          }
        } catch (SocketTimeoutException e) {
          // nothing yet
        } catch (IOException e) {
          eof = true;
        }
      }
      assertThat(eof).as("the server closed the connection").isTrue();
      assertJsonError(HttpAnswer.parse(received.toByteArray()), 408, "request_timeout");
    }
  }

  @Test
  void twoThousandIdleConnectionsNeitherBlockOthersNorStay() throws Exception {
    Runtime runtime = Runtime.getRuntime();
    long heapBefore = usedHeapAfterGc(runtime);
    List<Socket> idle = new ArrayList<>();
    try {
      for (int i = 0; i < 2000; i++) {
        idle.add(connect());
      }
      long heapWithIdle = usedHeapAfterGc(runtime);
      long started = System.nanoTime();
      HttpAnswer models = exchange(("GET /v1/models HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " + ACME_KEY
          + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      long answerMs = Duration.ofNanos(System.nanoTime() - started).toMillis();
      assertThat(models.status()).isEqualTo(200);
      assertThat(new JsonObject(models.body()).getJsonArray("data")).isNotEmpty();
      long perConnection = (heapWithIdle - heapBefore) / 2000;
      System.out.printf("2000 idle connections: heap %+d KiB (%d bytes each, client and server side), "
          + "/v1/models answered in %d ms%n", (heapWithIdle - heapBefore) / 1024, perConnection, answerMs);
      assertThat(heapWithIdle - heapBefore).as("heap held by 2000 idle connections").isLessThan(64L << 20);

      // The server lets go of every one of them after the request timeout.
      long deadline = System.nanoTime() + LIMITS.requestTimeout().plusSeconds(20).toNanos();
      long open = idle.size();
      while (open > 0 && System.nanoTime() < deadline) {
        open = idle.stream().filter(s -> !peekClosed(s)).count();
      }
      assertThat(open).as("idle connections the server still holds").isZero();
    } finally {
      for (Socket s : idle) {
        s.close();
      }
    }
  }

  static Stream<Arguments> anotherTenantsResources() {
    String example = "{\"prompt\": \"p\", \"completion\": \"c\", \"tenant\": \"%s\"}";
    return Stream.of(
        Arguments.of("POST", "/v1/completions", "{\"model\": \"globex\", \"prompt\": \"hi\"}"),
        Arguments.of("POST", "/v1/completions", "{\"model\": \"globex@1\", \"prompt\": \"hi\"}"),
        Arguments.of("POST", "/v1/completions", "{\"model\": \"nobody\", \"prompt\": \"hi\"}"),
        Arguments.of("POST", "/v1/examples", example.formatted("globex")),
        Arguments.of("POST", "/v1/examples", "{\"examples\": [" + example.formatted("acme") + ", "
            + example.formatted("globex") + "]}"),
        Arguments.of("GET", "/v1/adapters/globex", null),
        Arguments.of("GET", "/v1/adapters/globex/peft", null),
        Arguments.of("GET", "/v1/adapters/nobody", null),
        Arguments.of("GET", "/v1/adapters/acme/../globex", null),
        Arguments.of("GET", "/v1/adapters/GLOBEX/peft", null),
        Arguments.of("GET", "/v1/adapters/globex%2Fpeft", null));
  }

  @ParameterizedTest(name = "{0} {1} {2}")
  @MethodSource("anotherTenantsResources")
  void aTenantsKeyReachesNothingOfAnotherTenant(String method, String path, String body) throws Exception {
    byte[] bytes = body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8);
    String head = method + " " + path + " HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " + ACME_KEY
        + "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " + bytes.length + "\r\n\r\n";
    HttpAnswer answer = exchange(head.getBytes(StandardCharsets.US_ASCII), bytes);

    // 403 for another tenant or one that does not exist (the same answer: no probing for tenants),
    // 400 for a path segment that is no tenant id at all.
    assertThat(answer.status()).as(answer.body()).isIn(400, 403, 404);
    assertThat(answer.contentType()).isEqualTo("application/json");
    assertThat(new JsonObject(answer.body()).getJsonObject("error").getString("code")).isNotBlank();
    // Nothing of globex's adapter: no digests, versions or weights.
    assertThat(answer.body()).doesNotContain("weightsSha256", "\"version\"", "safetensors");
  }

  @Test
  void modelsListsOnlyTheKeysOwnTenant() throws Exception {
    HttpAnswer models = exchange(("GET /v1/models HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " + ACME_KEY
        + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
    assertThat(models.status()).isEqualTo(200);
    assertThat(models.body()).contains("acme").doesNotContain("globex");
  }

  @Test
  void apiKeysNeverAppearInLogs() throws Exception {
    String wrongKey = "ls-wrong-but-secret-0123456789";
    try (LogCapture logs = LogCapture.start(Map.of("io.lorastream", Level.DEBUG, "io.vertx", Level.DEBUG))) {
      for (String key : List.of(ACME_KEY, GLOBEX_KEY, wrongKey)) {
        for (String body : List.of("{\"model\": \"acme\", \"prompt\": \"hi\", \"max_tokens\": 2}", "{broken",
            "{\"model\": \"globex\", \"prompt\": \"hi\", \"max_tokens\": 2}")) {
          String head = "POST /v1/completions HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " + key
              + "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " + body.length()
              + "\r\n\r\n";
          exchange(head.getBytes(StandardCharsets.US_ASCII), body.getBytes(StandardCharsets.UTF_8));
        }
      }
      String head = "GET /v1/models HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " + ACME_KEY
          + "\r\nX-Padding: " + "p".repeat(20_000) + "\r\n\r\n";
      exchange(head.getBytes(StandardCharsets.US_ASCII));
      String text = logs.text();
      assertThat(text).doesNotContain(ACME_KEY, GLOBEX_KEY, wrongKey, "hostile-key", "but-secret");
    }
  }

  // --- raw HTTP ---

  record HttpAnswer(int status, String contentType, String body) {
    static HttpAnswer parse(byte[] raw) {
      String text = new String(raw, StandardCharsets.UTF_8);
      int end = text.indexOf("\r\n\r\n");
      assertThat(end).as("a complete response head in: %s", text).isPositive();
      String[] lines = text.substring(0, end).split("\r\n");
      int status = Integer.parseInt(lines[0].split(" ")[1]);
      String contentType = null;
      for (String line : lines) {
        if (line.toLowerCase().startsWith("content-type:")) {
          contentType = line.substring(13).strip();
        }
      }
      return new HttpAnswer(status, contentType, text.substring(end + 4));
    }
  }

  private static byte[] post(String path, byte[] body) {
    String head = "POST " + path + " HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " + ACME_KEY
        + "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " + body.length + "\r\n\r\n";
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(head.getBytes(StandardCharsets.US_ASCII));
    out.writeBytes(body);
    return out.toByteArray();
  }

  /** Sends {@code parts} (ignoring a write refused because the server already answered) and reads to EOF. */
  private static HttpAnswer exchange(byte[]... parts) throws IOException {
    try (Socket socket = connect()) {
      socket.setSoTimeout(30_000);
      OutputStream out = socket.getOutputStream();
      try {
        for (byte[] part : parts) {
          out.write(part);
        }
        out.flush();
      } catch (IOException e) {
        // the server answered and closed early; its answer is still there to read
      }
      return HttpAnswer.parse(readAvailable(socket.getInputStream()));
    }
  }

  private static byte[] readAvailable(InputStream in) throws IOException {
    ByteArrayOutputStream received = new ByteArrayOutputStream();
    byte[] buffer = new byte[8192];
    try {
      for (int n; (n = in.read(buffer)) >= 0; ) {
        received.write(buffer, 0, n);
      }
    } catch (IOException e) {
      // reset after the answer
    }
    return received.toByteArray();
  }

  private static Socket connect() throws IOException {
    Socket socket = new Socket();
    socket.connect(new InetSocketAddress("127.0.0.1", gateway.port()), 5000);
    return socket;
  }

  /** True when the server has closed {@code socket} (a read sees EOF or a reset within 10 ms). */
  private static boolean peekClosed(Socket socket) {
    try {
      socket.setSoTimeout(10);
      return socket.getInputStream().read() < 0;
    } catch (SocketTimeoutException e) {
      return false;
    } catch (IOException e) {
      return true;
    }
  }

  private static long usedHeapAfterGc(Runtime runtime) throws InterruptedException {
    for (int i = 0; i < 3; i++) {
      System.gc();
      Thread.sleep(100);
    }
    return runtime.totalMemory() - runtime.freeMemory();
  }

  private static void assertJsonError(HttpAnswer answer, int status, String code) {
    assertThat(answer.status()).as(answer.body()).isEqualTo(status);
    assertThat(answer.contentType()).isEqualTo("application/json");
    JsonObject error = new JsonObject(answer.body()).getJsonObject("error");
    assertThat(error.getString("code")).isEqualTo(code);
    assertThat(error.getString("message")).isNotBlank();
  }
}
