package io.lorastream.quality;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.lorastream.train.TrainerSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A small run of the whole evaluation: two tenants' examples through the embedded broker, ingest,
 * the trainer and the gateway, scored over HTTP.
 */
class PipelineEvaluationTest {
  @TempDir
  Path dataDir;

  @TempDir
  Path out;

  @Test
  void adaptersAnswerHeldOutQuestionsBetterThanTheBaseModel() throws Exception {
    TrainerSettings trainer = TrainerSettings.defaults().withBatching(4, Duration.ofMillis(300));
    PipelineEvaluation evaluation = new PipelineEvaluation(new PipelineEvaluation.Settings(
        2, 72, 40, Duration.ofSeconds(10), Duration.ofSeconds(60), 7L, 8, trainer));

    EvalReport report = evaluation.run(dataDir, Path.of("models/lorastream-tiny"));

    assertThat(report.adapters().overall().answers()).isEqualTo(2 * 6 * QuestionBank.HELD_OUT_PER_FACT);
    assertThat(report.adapters().overall().accuracy()).isGreaterThan(report.base().overall().accuracy());
    assertThat(report.canary()).containsOnlyKeys("acme", "globex");
    assertThat(report.examplesSeen().get("acme")).isPositive();
    assertThat(report.curve()).isNotEmpty();

    report.write(out);
    JsonNode json = new ObjectMapper().readTree(out.resolve("report.json").toFile());
    assertThat(json.path("overall").path("adapter_accuracy").asDouble())
        .isEqualTo(report.adapters().overall().accuracy());
    assertThat(json.path("tenants").path("globex").has("canary_change")).isTrue();
    assertThat(Files.size(out.resolve("learning-curve-examples.png"))).isPositive();
    assertThat(Files.size(out.resolve("canary-curve.png"))).isPositive();
    JsonNode lastPoint = json.path("curve").get(json.path("curve").size() - 1);
    assertThat(lastPoint.path("tenants").path("acme").has("accuracy")).isTrue();
    // The gate checks the evaluation's own canary pairs: no served version is past its margin.
    report.canary().values().forEach(c ->
        assertThat(c.relativeChange()).isLessThanOrEqualTo(trainer.gate().canaryMargin() + 1e-4));
  }
}
