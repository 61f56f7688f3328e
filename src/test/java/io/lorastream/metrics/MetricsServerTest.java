package io.lorastream.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

class MetricsServerTest {
  @Test
  void servesTheRegistryInPrometheusTextFormat() throws Exception {
    Metrics metrics = Metrics.create();
    metrics.trainerSteps.inc(3);
    try (MetricsServer server = MetricsServer.start(0, metrics)) {
      HttpResponse<String> response = HttpClient.newHttpClient().send(
          HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/metrics")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(response.statusCode()).isEqualTo(200);
      assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(
          v -> assertThat(v).startsWith("text/plain"));
      assertThat(response.body()).contains("lorastream_trainer_steps_total 3.0");
    }
  }

  @Test
  void healthzFailsOnceTheProcessesWorkHasEnded() throws Exception {
    AtomicBoolean failed = new AtomicBoolean();
    try (MetricsServer server = MetricsServer.start(0, Metrics.create(), failed::get)) {
      HttpRequest healthz = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/healthz")).build();
      HttpResponse<String> ok = HttpClient.newHttpClient().send(healthz, HttpResponse.BodyHandlers.ofString());
      assertThat(ok.statusCode()).isEqualTo(200);
      assertThat(ok.body()).isEqualTo("{\"status\":\"ok\"}");

      failed.set(true);
      HttpResponse<String> down = HttpClient.newHttpClient().send(healthz, HttpResponse.BodyHandlers.ofString());
      assertThat(down.statusCode()).isEqualTo(503);
      assertThat(down.body()).isEqualTo("{\"status\":\"failed\"}");
    }
  }
}
