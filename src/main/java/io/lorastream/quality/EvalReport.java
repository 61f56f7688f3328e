package io.lorastream.quality;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.lorastream.chart.LineChart;
import io.lorastream.chart.Series;
import io.lorastream.train.CanarySet;
import io.lorastream.train.TrainerSettings;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * What an evaluation measured, written as {@code report.json} and, when there is a learning curve,
 * {@code learning-curve-examples.png} and {@code learning-curve-seconds.png}.
 *
 * @param mode "in-process" or "gateway"
 * @param examplesPerTenant examples produced per tenant (0 in gateway mode: unknown)
 * @param examplesPerSecond production rate over all tenants (0 in gateway mode)
 * @param trainer the trainer settings (null in gateway mode: unknown)
 * @param base the base model's scores on the same questions
 * @param adapters the tenants' adapters' scores
 * @param trainedParaphrases the adapters' scores on one trained paraphrase per fact
 * @param canary tenant → canary loss change (empty when not measured)
 * @param examplesSeen tenant → examples its final served adapter was trained on
 * @param curve learning-curve samples (empty in gateway mode)
 * @param wallSeconds seconds from the first example produced to the end of the final evaluation
 */
public record EvalReport(String mode, int tenants, int examplesPerTenant, double examplesPerSecond, long seed,
    TrainerSettings trainer, FactScores base, FactScores adapters, FactScores trainedParaphrases, Map<String, CanaryLoss> canary,
    Map<String, Long> examplesSeen, List<CurvePoint> curve, double wallSeconds) {

  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  /** Mean over tenants of the relative canary loss change, or NaN when not measured. */
  public double meanCanaryChange() {
    return canary.values().stream().mapToDouble(CanaryLoss::relativeChange).average().orElse(Double.NaN);
  }

  /** The largest tenant's canary loss change, or NaN when not measured. */
  public double worstCanaryChange() {
    return canary.values().stream().mapToDouble(CanaryLoss::relativeChange).max().orElse(Double.NaN);
  }

  public ObjectNode toJson() {
    ObjectNode root = JSON.createObjectNode();
    root.put("mode", mode);
    ObjectNode settings = root.putObject("settings");
    settings.put("tenants", tenants).put("examples_per_tenant", examplesPerTenant)
        .put("examples_per_second", examplesPerSecond).put("seed", seed)
        .put("held_out_paraphrases_per_fact", QuestionBank.HELD_OUT_PER_FACT)
        .put("max_tokens", HeldOutEvaluation.MAX_TOKENS).put("decoding", "greedy, stop at newline");
    if (trainer != null) {
      settings.put("lora_rank", trainer.lora().rank()).put("lora_alpha", trainer.lora().alpha())
          .put("lora_targets", String.join(",", trainer.lora().targetModules()))
          .put("learning_rate", trainer.training().learningRate()).put("batch_size", trainer.batchSize())
          .put("batch_max_wait_ms", trainer.batchMaxWait().toMillis()).put("max_fused_rows", trainer.maxFusedRows())
          .put("publish_every_steps", trainer.publishEverySteps())
          .put("gate_canary_margin", trainer.gate().canaryMargin())
          .put("gate_holdout_margin", trainer.gate().holdoutMargin())
          .put("gate_holdout_min_margin", trainer.gate().holdoutMinMargin())
          .put("gate_canary_pairs", CanarySet.PAIRS.size())
          .put("rehearsal_ratio", trainer.rehearsalRatio());
    }
    ObjectNode overall = root.putObject("overall");
    overall.put("base_accuracy", base.overall().accuracy()).put("adapter_accuracy", adapters.overall().accuracy())
        .put("base_leakage", base.overall().leakage()).put("adapter_leakage", adapters.overall().leakage())
        .put("answers", adapters.overall().answers())
        .put("adapter_accuracy_trained_paraphrases", trainedParaphrases.overall().accuracy());
    if (!canary.isEmpty()) {
      overall.put("canary_change_mean", meanCanaryChange()).put("canary_change_max", worstCanaryChange());
    } else {
      overall.put("canary_change_mean", "not measured");
    }
    overall.put("wall_seconds", wallSeconds);
    ObjectNode perTenant = root.putObject("tenants");
    adapters.perTenant().forEach((tenant, score) -> {
      ObjectNode t = perTenant.putObject(tenant);
      t.put("adapter_accuracy", score.accuracy()).put("adapter_leakage", score.leakage())
          .put("base_accuracy", base.perTenant().get(tenant).accuracy());
      if (examplesSeen.containsKey(tenant)) {
        t.put("examples_seen", examplesSeen.get(tenant));
      }
      if (canary.containsKey(tenant)) {
        CanaryLoss c = canary.get(tenant);
        t.put("canary_base_loss", c.baseLoss()).put("canary_adapter_loss", c.adapterLoss())
            .put("canary_change", c.relativeChange());
      }
    });
    ArrayNode points = root.putArray("curve");
    for (CurvePoint p : curve) {
      points.addObject().put("seconds", p.seconds()).put("examples_produced_per_tenant", p.examplesProducedPerTenant())
          .put("examples_seen_per_tenant", p.examplesSeenPerTenant()).put("accuracy", p.accuracy())
          .put("leakage", p.leakage()).put("accuracy_trained_paraphrases", p.trainedParaphraseAccuracy());
      ObjectNode tenantsAt = points.get(points.size() - 1).with("tenants");
      p.tenants().forEach((tenant, t) -> {
        ObjectNode node = tenantsAt.putObject(tenant).put("examples_seen", t.examplesSeen()).put("accuracy", t.accuracy());
        if (!Double.isNaN(t.canaryChange())) {
          node.put("canary_change", t.canaryChange());
        }
      });
    }
    ArrayNode leaks = root.putArray("leaks");
    for (AnsweredQuestion a : adapters.leaks()) {
      leaks.addObject().put("tenant", a.question().tenant()).put("prompt", a.question().prompt())
          .put("answer", a.answer());
    }
    return root;
  }

  /** Writes report.json and the learning-curve charts into {@code dir} (created if needed). */
  public void write(Path dir) {
    try {
      Files.createDirectories(dir);
      Files.writeString(dir.resolve("report.json"), JSON.writeValueAsString(toJson()));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the report to " + dir, e);
    }
    if (curve.isEmpty()) {
      return;
    }
    Series byExamples = new Series("all tenants, held-out paraphrases");
    Series trainedByExamples = new Series("all tenants, trained paraphrases");
    Series bySeconds = new Series("all tenants");
    Series baseByExamples = new Series("base model");
    Series baseBySeconds = new Series("base model");
    for (CurvePoint p : curve) {
      byExamples.add(p.examplesSeenPerTenant(), p.accuracy());
      trainedByExamples.add(p.examplesSeenPerTenant(), p.trainedParaphraseAccuracy());
      bySeconds.add(p.seconds(), p.accuracy());
      baseByExamples.add(p.examplesSeenPerTenant(), base.overall().accuracy());
      baseBySeconds.add(p.seconds(), base.overall().accuracy());
    }
    String title = "Held-out fact accuracy, " + tenants + " tenants";
    LineChart examplesChart = new LineChart(title, "examples trained on per tenant (mean)", "accuracy").yRange(0, 1)
        .add(byExamples).add(trainedByExamples).add(baseByExamples);
    LineChart secondsChart = new LineChart(title, "seconds since the first example", "accuracy").yRange(0, 1)
        .add(bySeconds).add(baseBySeconds);
    LineChart canaryChart = new LineChart("Canary loss change vs base, worst tenant of each group",
        "examples trained on per tenant (group mean)", "relative change");
    for (TenantGroups.Group group : TenantGroups.of(List.copyOf(adapters.perTenant().keySet()))) {
      Series accuracyByExamples = new Series(group.name());
      Series accuracyBySeconds = new Series(group.name());
      Series worstCanary = new Series(group.name());
      for (CurvePoint p : curve) {
        TenantGroups.Sample s = group.sample(p);
        accuracyByExamples.add(s.examplesSeen(), s.accuracy());
        accuracyBySeconds.add(p.seconds(), s.accuracy());
        if (!Double.isNaN(s.worstCanaryChange())) {
          worstCanary.add(s.examplesSeen(), s.worstCanaryChange());
        }
      }
      examplesChart.add(accuracyByExamples);
      secondsChart.add(accuracyBySeconds);
      canaryChart.add(worstCanary);
    }
    Series aim = new Series("aim: at most +5%");
    curve.forEach(p -> aim.add(p.examplesSeenPerTenant(), 0.05));
    examplesChart.writePng(dir.resolve("learning-curve-examples.png"));
    secondsChart.writePng(dir.resolve("learning-curve-seconds.png"));
    canaryChart.add(aim).writePng(dir.resolve("canary-curve.png"));
  }

  /** A few lines for the terminal. */
  public String summary() {
    StringBuilder b = new StringBuilder();
    b.append(String.format("held-out fact accuracy: base %.1f%%, adapters %.1f%% (%d answers, %d tenants)%n",
        100 * base.overall().accuracy(), 100 * adapters.overall().accuracy(), adapters.overall().answers(), tenants));
    b.append(String.format("accuracy on trained paraphrases (recall): adapters %.1f%%%n",
        100 * trainedParaphrases.overall().accuracy()));
    b.append(String.format("cross-tenant leakage: %.1f%% of answers (base %.1f%%)%n",
        100 * adapters.overall().leakage(), 100 * base.overall().leakage()));
    if (canary.isEmpty()) {
      b.append("canary loss change: not measured\n");
    } else {
      b.append(String.format("canary loss change vs base: mean %+.1f%%, worst tenant %+.1f%%%n",
          100 * meanCanaryChange(), 100 * worstCanaryChange()));
    }
    if (!examplesSeen.isEmpty()) {
      b.append(String.format("examples trained on per tenant: mean %.0f%n",
          examplesSeen.values().stream().mapToLong(Long::longValue).average().orElse(0)));
    }
    if (wallSeconds > 0) {
      b.append(String.format("wall clock: %.0f s from the first example to the final scores%n", wallSeconds));
    }
    return b.toString();
  }
}
