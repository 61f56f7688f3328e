package io.lorastream.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The load driver against a small HTTP server that answers completions after a fixed delay with a
 * model-dependent token count: phases of one name add up, the warm-up and the answers after a
 * window's end are not counted, and failures count as errors.
 */
class LoadDriverTest {
  static Vertx vertx;
  static HttpServer server;
  static final Map<String, AtomicInteger> received = new ConcurrentHashMap<>();

  @BeforeAll
  static void startServer() throws Exception {
    vertx = Vertx.vertx();
    server = vertx.createHttpServer().requestHandler(request -> request.body().onSuccess(body -> {
      JsonObject json = body.toJsonObject();
      String model = json.getString("model");
      received.computeIfAbsent(model, m -> new AtomicInteger()).incrementAndGet();
      if (!"Bearer k".equals(request.getHeader("Authorization")) || model.equals("broken")) {
        request.response().setStatusCode(500).end("{}");
        return;
      }
      int tokens = model.equals("a") ? 3 : 5;
      vertx.setTimer(20, t -> request.response().putHeader("Content-Type", "application/json")
          .end(new JsonObject().put("usage", new JsonObject().put("completion_tokens", tokens)).encode()));
    })).listen(0).await(10, TimeUnit.SECONDS);
  }

  @AfterAll
  static void stopServer() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  private static String url() {
    return "http://127.0.0.1:" + server.actualPort();
  }

  @Test
  void phasesOfOneNameAddUpAndOnlyAnswersWithinTheirWindowsCount() throws Exception {
    received.clear();
    LoadDriver.Phase a = new LoadDriver.Phase("A", url(), 4, 0.5, List.of("a"));
    LoadDriver.Phase b = new LoadDriver.Phase("B", url(), 2, 0.5, List.of("b"));
    JsonNode result = LoadDriver.run("k", 8, "hello", 0.3, List.of(a, b, a, b));

    assertThat(result.fieldNames()).toIterable().containsExactly("A", "B");
    JsonNode sideA = result.get("A");
    JsonNode sideB = result.get("B");
    assertThat(sideA.get("elapsed_s").asDouble()).isCloseTo(1.0, org.assertj.core.data.Offset.offset(0.01));
    assertThat(sideA.get("windows_epoch_ms")).hasSize(2);
    assertThat(sideA.get("errors").asLong()).isZero();
    // 4 clients, 20 ms per answer, 1 s: at most 200 answers (fewer on a busy machine).
    assertThat(sideA.get("requests").asLong()).isBetween(20L, 200L);
    assertThat(sideA.get("completion_tokens").asLong()).isEqualTo(3 * sideA.get("requests").asLong());
    assertThat(sideB.get("completion_tokens").asLong()).isEqualTo(5 * sideB.get("requests").asLong());
    assertThat(sideB.get("requests").asLong()).as("half the clients, about half the answers")
        .isLessThan(sideA.get("requests").asLong());
    assertThat(sideA.get("p50_ms").asDouble()).isGreaterThanOrEqualTo(20);
    // The warm-up ran phase A's load, and the last request of each client in each window is
    // answered after it: neither is counted.
    assertThat(received.get("a").get()).isGreaterThan(Math.toIntExact(sideA.get("requests").asLong()) + 2 * 4);
    assertThat(sideA.get("driver_cpu_cores").asDouble()).isGreaterThan(0);
  }

  @Test
  void failedAnswersAreErrors() throws Exception {
    JsonNode result = LoadDriver.run("k", 8, "hello", 0.3,
        List.of(new LoadDriver.Phase("broken", url(), 2, 0.5, List.of("broken"))));
    assertThat(result.get("broken").get("errors").asLong()).isPositive();
    assertThat(result.get("broken").get("requests").asLong()).isZero();
    JsonNode wrongKey = LoadDriver.run("not-k", 8, "hello", 0.3,
        List.of(new LoadDriver.Phase("a", url(), 1, 0.5, List.of("a"))));
    assertThat(wrongKey.get("a").get("errors").asLong()).isPositive();
  }

  @Test
  void aPhaseSpecRoundTripsAndABadOneIsRefused() {
    LoadDriver.Phase phase = new LoadDriver.Phase("one", "http://h:1", 64, 2.5, List.of("t0", "t1"));
    assertThat(LoadDriver.Phase.parse(phase.spec())).isEqualTo(phase);
    assertThatThrownBy(() -> LoadDriver.Phase.parse("one|http://h:1|64"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("NAME|URL|CONCURRENCY|SECONDS|MODEL");
  }
}
