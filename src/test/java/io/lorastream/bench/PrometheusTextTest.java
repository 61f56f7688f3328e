package io.lorastream.bench;

import static org.assertj.core.api.Assertions.assertThat;

import io.lorastream.metrics.Metrics;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class PrometheusTextTest {
  @Test
  void readsTheTrainerCountersFromARealScrape() {
    Metrics metrics = Metrics.create();
    metrics.trainerExamples.labelValues("trained").inc(12);
    metrics.trainerExamples.labelValues("holdout").inc(3);
    metrics.trainerTokens.inc(480);
    String text = new String(metrics.scrape(null).body(), StandardCharsets.UTF_8);

    assertThat(PrometheusText.value(text, TrainerMetricsSampler.TRAINED)).isEqualTo(12.0);
    assertThat(PrometheusText.value(text, TrainerMetricsSampler.TOKENS)).isEqualTo(480.0);
    assertThat(PrometheusText.value(text, TrainerMetricsSampler.STEPS)).isEqualTo(0.0);
    assertThat(PrometheusText.value(text, "lorastream_no_such_metric")).isNaN();
  }
}
