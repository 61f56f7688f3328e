package io.lorastream.cli;

import io.lorastream.model.BaseModel;
import io.lorastream.quality.CanaryLoss;
import io.lorastream.quality.CustomerServiceDataset;
import io.lorastream.quality.DatasetFiles;
import io.lorastream.quality.EvalReport;
import io.lorastream.quality.FactScores;
import io.lorastream.quality.GatewayClient;
import io.lorastream.quality.HeldOutEvaluation;
import io.lorastream.quality.PipelineEvaluation;
import io.lorastream.quality.TenantCatalog;
import io.lorastream.train.TrainerSettings;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "eval", mixinStandardHelpOptions = true,
    description = {
        "Measures whether each tenant learns its own facts without forgetting or leaking, on the multi-tenant "
            + "customer-service dataset: held-out fact accuracy (questions phrased in ways never trained on), "
            + "cross-tenant leakage and canary loss change vs the base model.",
        "Default: everything in one process (embedded Kafka, ingest, trainer, gateway); the dataset is produced at "
            + "--rate and the gateway is sampled over HTTP every --sample-every-s seconds for the learning curve.",
        "With --gateway URL --api-key KEY: scores a running gateway whose tenants trained on this dataset "
            + "(same --tenants and --seed); the canary change needs the same base model locally (--base-model).",
        "With --write-dataset: writes train.jsonl (for ./lorastream produce), heldout.jsonl and canary.jsonl "
            + "to --out and exits.",
        "Writes report.json and learning-curve PNGs to --out."})
final class EvalCommand implements Callable<Integer> {
  @Spec
  CommandSpec spec;

  @Option(names = "--tenants", defaultValue = "20",
      description = "Tenants of the dataset (acme, globex, initech first; at most 40; default: ${DEFAULT-VALUE}).")
  int tenants;

  @Option(names = "--examples", defaultValue = "200", description = "Examples produced per tenant (default: ${DEFAULT-VALUE}).")
  int examples;

  @Option(names = "--rate", defaultValue = "20", description = "Examples per second over all tenants (default: ${DEFAULT-VALUE}).")
  double rate;

  @Option(names = "--seed", defaultValue = "7", description = "Dataset seed (default: ${DEFAULT-VALUE}, the demo's).")
  long seed;

  @Option(names = "--sample-every-s", defaultValue = "30",
      description = "Seconds between learning-curve samples (default: ${DEFAULT-VALUE}).")
  int sampleEverySeconds;

  @Option(names = "--settle-timeout-s", defaultValue = "300",
      description = "After the last example, most seconds to wait for every adapter to train on it (default: ${DEFAULT-VALUE}).")
  int settleSeconds;

  @Option(names = "--batch-size", description = "Trainer micro-batch size (default: the trainer's).")
  Integer batchSize;

  @Option(names = "--batch-max-wait-ms",
      description = "A partial micro-batch trains after this wait, in ms (default: the trainer's).")
  Long batchMaxWaitMs;

  @Option(names = "--learning-rate", description = "The trainer's learning rate of a full micro-batch (default: the trainer's).")
  Float learningRate;

  @Option(names = "--rehearsal-ratio",
      description = "General exchanges added to each tenant's training step against forgetting, per example of the "
          + "step, rounded up (default: the trainer's).")
  Double rehearsalRatio;

  @Option(names = "--gate-canary-margin",
      description = "The trainer's canary gate margin; Infinity turns it off (default: the trainer's).")
  Double canaryMargin;

  @Option(names = "--parallel", defaultValue = "16", description = "Evaluation requests in flight (default: ${DEFAULT-VALUE}).")
  int parallel;

  @Option(names = "--out", defaultValue = "target/eval", description = "Report folder (default: ${DEFAULT-VALUE}).")
  Path out;

  @Option(names = "--data-dir", description = "Where the embedded broker keeps its data (default: a fresh temporary folder).")
  Path dataDir;

  @Option(names = "--gateway", paramLabel = "URL", description = "Score a running gateway instead (e.g. http://localhost:8080).")
  URI gateway;

  @Option(names = "--api-key", paramLabel = "KEY", description = "An admin key of that gateway (it asks every tenant and the base model).")
  String apiKey;

  @Option(names = "--write-dataset", description = "Only write the dataset's JSONL files to --out.")
  boolean writeDataset;

  @Mixin
  BaseModelOption base = new BaseModelOption();

  @Override
  public Integer call() throws Exception {
    validate();
    CustomerServiceDataset data = new CustomerServiceDataset(tenants, seed);
    if (writeDataset) {
      DatasetFiles.write(data, examples, out);
      System.out.printf("wrote %s/train.jsonl (%d examples), heldout.jsonl and canary.jsonl%n", out,
          examples * tenants);
      return 0;
    }
    EvalReport report = gateway != null ? scoreGateway(data) : runPipeline();
    report.write(out);
    System.out.print(report.summary());
    System.out.printf("report: %s%n", out.resolve("report.json"));
    return 0;
  }

  private void validate() {
    if (tenants < 1 || tenants > TenantCatalog.MAX_TENANTS) {
      throw new ParameterException(spec.commandLine(), "--tenants must be in 1.." + TenantCatalog.MAX_TENANTS);
    }
    if (examples < 1 || !(rate > 0) || sampleEverySeconds < 1 || parallel < 1 || settleSeconds < 0) {
      throw new ParameterException(spec.commandLine(),
          "--examples, --rate, --sample-every-s and --parallel must be positive, --settle-timeout-s not negative");
    }
    if ((gateway == null) != (apiKey == null)) {
      throw new ParameterException(spec.commandLine(), "--gateway and --api-key go together");
    }
  }

  private EvalReport scoreGateway(CustomerServiceDataset data) {
    HeldOutEvaluation evaluation = new HeldOutEvaluation(new GatewayClient(gateway, apiKey), data, parallel);
    FactScores baseScores = evaluation.baseModel();
    FactScores adapters = evaluation.adapters();
    FactScores trained = evaluation.adaptersOnTrainedParaphrases();
    Map<String, CanaryLoss> canary;
    try (BaseModel model = BaseModel.load(base.resolve())) {
      canary = evaluation.canary(model);
    }
    return new EvalReport("gateway", tenants, 0, 0, seed, null, baseScores, adapters, trained, canary, Map.of(), List.of(), 0);
  }

  private EvalReport runPipeline() throws Exception {
    TrainerSettings trainer = TrainerSettings.defaults();
    if (batchSize != null || batchMaxWaitMs != null) {
      trainer = trainer.withBatching(batchSize != null ? batchSize : trainer.batchSize(),
          batchMaxWaitMs != null ? Duration.ofMillis(batchMaxWaitMs) : trainer.batchMaxWait());
    }
    if (learningRate != null) {
      trainer = trainer.withTraining(trainer.training().withLearningRate(learningRate));
    }
    if (rehearsalRatio != null) {
      trainer = trainer.withRehearsal(rehearsalRatio);
    }
    if (canaryMargin != null) {
      TrainerSettings.Gate gate = trainer.gate();
      trainer = trainer.withGate(new TrainerSettings.Gate(gate.holdoutMargin(), gate.holdoutMinMargin(), canaryMargin,
          gate.minHoldoutExamples()));
    }
    Path data = dataDir != null ? dataDir : Files.createTempDirectory("lorastream-eval");
    PipelineEvaluation evaluation = new PipelineEvaluation(new PipelineEvaluation.Settings(tenants, examples, rate,
        Duration.ofSeconds(sampleEverySeconds), Duration.ofSeconds(settleSeconds), seed, parallel, trainer));
    System.out.printf("evaluating %d tenants x %d examples at %.1f examples/s (data in %s)%n", tenants, examples,
        rate, data);
    return evaluation.run(data, base.resolve());
  }
}
