package io.lorastream.cli;

import io.lorastream.kafka.KafkaSettings;
import io.lorastream.kafka.TopicAdmin;
import io.lorastream.kafka.Topics;
import io.lorastream.metrics.Metrics;
import io.lorastream.metrics.MetricsServer;
import io.lorastream.model.BaseModel;
import io.lorastream.model.TorchThreads;
import io.lorastream.train.ContinualTrainer;
import io.lorastream.train.TrainerSettings;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "trainer", mixinStandardHelpOptions = true,
    description = "Continually train each tenant's adapter from the clean examples topic and publish snapshots.")
final class TrainerCommand implements Callable<Integer> {
  @Mixin
  KafkaOptions kafka = new KafkaOptions();

  @Mixin
  BaseModelOption base = new BaseModelOption();

  @Option(names = "--instance-id", defaultValue = "${env:HOSTNAME:-trainer-0}",
      description = "Unique id of this trainer instance (default: $HOSTNAME or trainer-0).")
  String instanceId;

  @Option(names = "--group-id", defaultValue = "lorastream-trainer",
      description = "Consumer group of all trainer instances that share the tenants (default: ${DEFAULT-VALUE}).")
  String groupId;

  @Option(names = "--batch-size", defaultValue = "8", description = "Examples per micro-batch (default: ${DEFAULT-VALUE}).")
  int batchSize;

  @Option(names = "--batch-max-wait-ms", defaultValue = "1000",
      description = "A partial micro-batch trains after this wait (default: ${DEFAULT-VALUE}).")
  long batchMaxWaitMs;

  @Option(names = "--publish-every-steps", defaultValue = "1",
      description = "A step is a publish candidate after this many steps since the last publish (default: ${DEFAULT-VALUE}).")
  int publishEverySteps;

  @Option(names = "--publish-max-interval-ms", defaultValue = "60000",
      description = "... or when this long has passed since the last publish (default: ${DEFAULT-VALUE}).")
  long publishMaxIntervalMs;

  @Option(names = "--gate-holdout-margin", defaultValue = "0.10",
      description = "A candidate may be this much (relative) worse than the best kept published version on the "
          + "tenant's holdout examples; Infinity turns the check off (default: ${DEFAULT-VALUE}).")
  double holdoutMargin;

  @Option(names = "--gate-holdout-min-margin", defaultValue = "" + TrainerSettings.Gate.DEFAULT_HOLDOUT_MIN_MARGIN,
      description = "... but never less than this many nats per completion token, so that a tenant whose holdout "
          + "loss is already low is not held back by training's step-to-step wobble (default: ${DEFAULT-VALUE}).")
  double holdoutMinMargin;

  @Option(names = "--gate-canary-margin", defaultValue = "0.05",
      description = "A candidate may be this much (relative) worse than the base model on the canary set; "
          + "Infinity turns the check off (default: ${DEFAULT-VALUE}).")
  double canaryMargin;

  @Option(names = "--kept-versions", defaultValue = "5",
      description = "Published versions each tenant's checkpoint keeps for rollbacks (default: ${DEFAULT-VALUE}).")
  int keptVersions;

  @Option(names = "--max-fused-rows", defaultValue = "" + TrainerSettings.DEFAULT_MAX_FUSED_ROWS,
      description = "The ready micro-batches of a cycle train together in fused steps of at most this many examples "
          + "(default: ${DEFAULT-VALUE}); a micro-batch larger than this trains alone; 1 turns fusion off.")
  int maxFusedRows;

  @Option(names = "--torch-threads", defaultValue = "0",
      description = "Threads libtorch uses within one operation in this process (default: ${DEFAULT-VALUE}, "
          + "libtorch's default of one per core, or 1 with more than one train thread); 1 when the cores are "
          + "shared with other busy processes (gateway, broker), where more threads wait on each other.")
  int torchThreads;

  @Option(names = "--train-threads", defaultValue = "1",
      description = "Threads that run a cycle's fused steps, several groups of tenants at once, while the trainer "
          + "thread publishes and checkpoints the groups done (default: ${DEFAULT-VALUE}); on a CPU, about the cores "
          + "the trainer may use. Weights do not depend on it.")
  int trainThreads;

  @Option(names = "--rehearsal-ratio", defaultValue = "" + TrainerSettings.DEFAULT_REHEARSAL_RATIO,
      description = "General exchanges (no tenant fact, none of the canary set) added to each tenant's training "
          + "step against forgetting, per example of the step, rounded up (0.5: 4 for a batch of 8, 1 for one "
          + "example); 0 turns rehearsal off (default: ${DEFAULT-VALUE}).")
  double rehearsalRatio;

  @Option(names = "--learning-rate", defaultValue = "" + TrainerSettings.DEFAULT_LEARNING_RATE,
      description = "AdamW learning rate of a full micro-batch (--batch-size examples); a tenant's micro-batch of "
          + "fewer examples takes sqrt(examples / batch size) of it (default: ${DEFAULT-VALUE}).")
  float learningRate;

  @Option(names = "--learning-rate-decay-examples",
      defaultValue = "" + TrainerSettings.DEFAULT_LEARNING_RATE_DECAY_EXAMPLES,
      description = "A tenant's examples seen after which its learning rate falls as sqrt(this / examples seen), "
          + "keeping long-lived adapters near the base model's general answers; 0 keeps it (default: ${DEFAULT-VALUE}).")
  long learningRateDecayExamples;

  @Mixin
  MetricsOption metricsOption = new MetricsOption();

  /** The trainer's settings as the options give them. */
  TrainerSettings trainerSettings() {
    TrainerSettings defaults = TrainerSettings.defaults();
    return defaults.withInstanceId(instanceId).withGroupId(groupId)
        .withBatching(batchSize, Duration.ofMillis(batchMaxWaitMs))
        .withPublishing(publishEverySteps, Duration.ofMillis(publishMaxIntervalMs))
        .withGate(new TrainerSettings.Gate(holdoutMargin, holdoutMinMargin, canaryMargin,
            TrainerSettings.Gate.defaults().minHoldoutExamples()))
        .withKeptVersions(keptVersions)
        .withMaxFusedRows(maxFusedRows)
        .withRehearsal(rehearsalRatio)
        .withTrainThreads(trainThreads)
        .withTraining(defaults.training().withLearningRate(learningRate))
        .withLearningRateDecay(learningRateDecayExamples);
  }

  @Override
  public Integer call() throws Exception {
    KafkaSettings settings = kafka.settings();
    Topics topics = kafka.topics();
    TopicAdmin.ensureTopics(settings, topics);
    TrainerSettings trainerSettings = trainerSettings();
    if (torchThreads < 0) {
      throw new IllegalArgumentException("--torch-threads must be 0 or more, got " + torchThreads);
    }
    BaseModel model = BaseModel.load(base.resolve());
    // Several train threads each with libtorch's pool of one thread per core would wait on each other.
    TorchThreads.use(torchThreads == 0 && trainThreads > 1 ? 1 : torchThreads);
    Metrics metrics = Metrics.create();
    ContinualTrainer trainer = new ContinualTrainer(model, settings, topics, topics.cleanExamples().name(),
        trainerSettings, metrics);
    // A training loop that ended by itself (fenced, refused, a bug) fails /healthz: the process gets restarted.
    MetricsServer metricsServer = metricsOption.serve(metrics, trainer::hasFailed);
    trainer.start();
    Shutdown.awaitSignal(() -> {
      trainer.close();
      model.close();
      metricsServer.close();
    });
    return 0;
  }
}
