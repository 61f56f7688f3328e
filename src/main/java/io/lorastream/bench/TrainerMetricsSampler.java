package io.lorastream.bench;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Scrapes the trainer's {@code /metrics} once a second: the counters of examples trained, tokens
 * and steps, to chart training throughput over time and to count what the trainer did in a window.
 */
final class TrainerMetricsSampler implements AutoCloseable {
  static final String TRAINED = "lorastream_trainer_examples_total{outcome=\"trained\"}";
  static final String TOKENS = "lorastream_trainer_tokens_total";
  static final String STEPS = "lorastream_trainer_steps_total";
  static final String STEP_SECONDS = "lorastream_trainer_step_seconds_sum";
  static final String COMMIT_WAIT_SECONDS = "lorastream_trainer_commit_wait_seconds_sum";

  /**
   * Counter values at one moment (epoch ms); NaN where the trainer did not answer.
   *
   * @param stepSeconds seconds spent in training steps so far
   * @param commitWaitSeconds seconds the trainer thread spent waiting for commits so far
   */
  record Sample(long atMs, double trained, double tokens, double steps, double stepSeconds, double commitWaitSeconds) {}

  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
  private final HttpRequest request;
  private final List<Sample> samples = new ArrayList<>();
  private final Thread thread = new Thread(this::loop, "bench-metrics-sampler");
  private volatile boolean running = true;

  TrainerMetricsSampler(String metricsUrl) {
    this.request = HttpRequest.newBuilder(URI.create(metricsUrl)).timeout(Duration.ofSeconds(5)).GET().build();
  }

  TrainerMetricsSampler start() {
    thread.setDaemon(true);
    thread.start();
    return this;
  }

  /** Scrapes now (also used at the edges of a measuring window). */
  Sample sample() {
    long at = System.currentTimeMillis();
    try {
      HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
      if (response.statusCode() == 200) {
        // A labelled counter appears only once it was first counted: absent from an answer means 0.
        String text = response.body();
        return new Sample(at, orZero(PrometheusText.value(text, TRAINED)), orZero(PrometheusText.value(text, TOKENS)),
            orZero(PrometheusText.value(text, STEPS)), orZero(PrometheusText.value(text, STEP_SECONDS)),
            orZero(PrometheusText.value(text, COMMIT_WAIT_SECONDS)));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Exception e) {
      // the trainer did not answer this time
    }
    return new Sample(at, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
  }

  private static double orZero(double v) {
    return Double.isNaN(v) ? 0 : v;
  }

  synchronized List<Sample> samples() {
    return List.copyOf(samples);
  }

  private void loop() {
    while (running) {
      Sample s = sample();
      synchronized (this) {
        samples.add(s);
      }
      try {
        Thread.sleep(1000);
      } catch (InterruptedException e) {
        return;
      }
    }
  }

  @Override
  public void close() throws InterruptedException {
    running = false;
    thread.interrupt();
    thread.join(5_000);
  }
}
