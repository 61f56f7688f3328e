package io.lorastream.cli;

import io.lorastream.kafka.KafkaSettings;
import io.lorastream.kafka.TopicAdmin;
import io.lorastream.kafka.Topics;
import io.lorastream.metrics.Metrics;
import io.lorastream.model.BaseModel;
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

  @Option(names = "--batch-size", defaultValue = "8", description = "Examples per micro-batch (default: ${DEFAULT-VALUE}).")
  int batchSize;

  @Option(names = "--batch-max-wait-ms", defaultValue = "1000",
      description = "A partial micro-batch trains after this wait (default: ${DEFAULT-VALUE}).")
  long batchMaxWaitMs;

  @Override
  public Integer call() throws Exception {
    KafkaSettings settings = kafka.settings();
    Topics topics = kafka.topics();
    TopicAdmin.ensureTopics(settings, topics);
    TrainerSettings trainerSettings = TrainerSettings.defaults().withInstanceId(instanceId)
        .withBatching(batchSize, Duration.ofMillis(batchMaxWaitMs));
    BaseModel model = BaseModel.load(base.resolve());
    ContinualTrainer trainer = new ContinualTrainer(model, settings, topics, topics.cleanExamples().name(),
        trainerSettings, Metrics.create()).start();
    Shutdown.awaitSignal(() -> {
      trainer.close();
      model.close();
    });
    return 0;
  }
}
