package io.lorastream.train;

import static io.lorastream.train.TrainerTopics.example;
import static org.assertj.core.api.Assertions.assertThat;

import io.lorastream.avro.AdapterSnapshot;
import io.lorastream.avro.TrainingExample;
import io.lorastream.kafka.KafkaSettings;
import io.lorastream.kafka.TopicAdmin;
import io.lorastream.kafka.Topics;
import io.lorastream.metrics.Metrics;
import io.lorastream.model.BaseModel;
import io.lorastream.model.FusedLoraTrainer;
import io.lorastream.model.TinyModelFactory;
import io.lorastream.testing.EmbeddedKafkaExtension;
import io.lorastream.testing.ExampleLedger;
import io.lorastream.testing.TopicProbe;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.function.DoubleSupplier;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A trainer whose step hangs: the backlog shows in {@code lorastream_trainer_consumer_lag_records}
 * and the last-commit time stops moving; once the step returns, every example is trained exactly
 * once and the lag goes back to zero.
 */
class StuckTrainerTest {
  @RegisterExtension
  static final EmbeddedKafkaExtension KAFKA = new EmbeddedKafkaExtension();

  @TempDir
  Path modelDir;

  private static final int BATCH = 4;
  private static final int EXAMPLES = 40;

  @Test
  void backlogOfAStuckTrainerShowsAsLagAndIsTrainedOnceItResumes() throws Exception {
    TinyModelFactory.create(modelDir, 3);
    KafkaSettings kafka = KAFKA.settings();
    Topics topics = new Topics("stuck.");
    TopicAdmin.ensureTopics(kafka, topics);
    Metrics metrics = Metrics.create();
    TrainerSettings settings = TrainerSettings.defaults().withInstanceId("stuck-0")
        .withBatching(BATCH, Duration.ofMinutes(10)).withGate(TrainerSettings.Gate.open());
    CountDownLatch unstick = new CountDownLatch(1);
    ContinualTrainer.StepFunction hangsFromTheSecondStep = new ContinualTrainer.StepFunction() {
      private int steps;

      @Override
      public float[] step(List<FusedLoraTrainer.TenantBatch> group) {
        if (++steps == 2) {
          try {
            unstick.await();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }
        return ContinualTrainer.fusedStep(group);
      }
    };

    try (BaseModel base = BaseModel.load(modelDir);
        ContinualTrainer trainer = new ContinualTrainer(base, kafka, topics, topics.cleanExamples().name(), settings,
            metrics, hangsFromTheSecondStep).start()) {
      TrainerTopics.produce(kafka, topics, examples(0, BATCH));
      TrainerTopics.snapshotsUntilSeen(kafka, topics, BATCH);
      await("lag back to 0 after the first step", () -> metrics.trainerConsumerLag.get(), 0);
      double firstCommit = metrics.trainerLastCommit.get();
      assertThat(firstCommit).isGreaterThan(0);

      // The second step hangs; the rest of the examples wait behind it.
      TrainerTopics.produce(kafka, topics, examples(BATCH, EXAMPLES));
      await("the backlog in the lag gauge", () -> metrics.trainerConsumerLag.get(), EXAMPLES - BATCH);
      Thread.sleep(2_000);
      assertThat(metrics.trainerConsumerLag.get()).isEqualTo(EXAMPLES - BATCH);
      assertThat(metrics.trainerLastCommit.get()).isEqualTo(firstCommit);
      assertThat(metrics.trainerSteps.get()).isEqualTo(1);

      unstick.countDown();
      List<AdapterSnapshot> snapshots = TrainerTopics.snapshotsUntilSeen(kafka, topics, EXAMPLES);
      await("lag back to 0 after catching up", () -> metrics.trainerConsumerLag.get(), 0);
      assertThat(metrics.trainerLastCommit.get()).isGreaterThan(firstCommit);

      List<Long> offsets = TopicProbe.readUntil(kafka, topics.cleanExamples().name(), r -> r.size() >= EXAMPLES,
          Duration.ofSeconds(30)).stream().map(ConsumerRecord::offset).toList();
      ExampleLedger ledger = new ExampleLedger(Map.of("acme", offsets));
      snapshots.forEach(s -> ledger.record(s.getTenant(), s.getTrainedThrough(), s.getExamplesSeen()));
      assertThat(ledger.inconsistencies()).isEmpty();
      assertThat(ledger.lost()).isZero();
      assertThat(ledger.duplicated()).isZero();
      assertThat(TrainerTopics.last(snapshots).getExamplesSeen()).isEqualTo(EXAMPLES);
    }
  }

  private static List<TrainingExample> examples(int from, int to) {
    List<TrainingExample> examples = new ArrayList<>();
    for (int i = from; i < to; i++) {
      examples.add(example("acme", "acme-" + i, "Question " + i + "?\nAnswer:", " answer " + i % 5 + ".", false));
    }
    return examples;
  }

  private static void await(String what, DoubleSupplier value, double expected) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (value.getAsDouble() != expected) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting for " + what + ": " + value.getAsDouble() + ", expected " + expected);
      }
      Thread.sleep(50);
    }
  }
}
