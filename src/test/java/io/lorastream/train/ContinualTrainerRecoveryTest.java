package io.lorastream.train;

import static org.assertj.core.api.Assertions.assertThat;

import io.lorastream.avro.AdapterSnapshot;
import io.lorastream.avro.TrainingExample;
import io.lorastream.contract.AvroCodec;
import io.lorastream.kafka.KafkaSettings;
import io.lorastream.kafka.TopicAdmin;
import io.lorastream.kafka.Topics;
import io.lorastream.metrics.Metrics;
import io.lorastream.model.BaseModel;
import io.lorastream.model.TinyModelFactory;
import io.lorastream.testing.EmbeddedKafkaExtension;
import io.lorastream.testing.TopicProbe;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A trainer stopped half-way and replaced by another instance resumes from the committed
 * checkpoint: no example is trained twice or lost, and the weights equal an uninterrupted run.
 */
class ContinualTrainerRecoveryTest {
  @RegisterExtension
  static final EmbeddedKafkaExtension KAFKA = new EmbeddedKafkaExtension();

  @TempDir
  static Path modelDir;

  // Only full micro-batches train (the wait is far longer than the test), so batches are deterministic.
  private static final TrainerSettings SETTINGS =
      TrainerSettings.defaults().withBatching(2, Duration.ofMinutes(10));

  @BeforeAll
  static void createModel() {
    TinyModelFactory.create(modelDir, 11);
  }

  @Test
  void restartedTrainerResumesExactlyWhereTheFirstStopped() throws Exception {
    KafkaSettings kafka = KAFKA.settings();
    Topics interrupted = new Topics("interrupted.");
    Topics uninterrupted = new Topics("uninterrupted.");
    TopicAdmin.ensureTopics(kafka, interrupted);
    TopicAdmin.ensureTopics(kafka, uninterrupted);

    try (BaseModel base = BaseModel.load(modelDir)) {
      // Interrupted: 6 examples, stop, 2 more, a new instance takes over.
      produce(kafka, interrupted, 0, 6);
      try (ContinualTrainer first = trainer(base, kafka, interrupted, "first")) {
        awaitExamplesSeen(kafka, interrupted, 6);
      }
      produce(kafka, interrupted, 6, 8);
      AdapterSnapshot resumed;
      try (ContinualTrainer second = trainer(base, kafka, interrupted, "second")) {
        resumed = awaitExamplesSeen(kafka, interrupted, 8);
      }

      // Uninterrupted: the same 8 examples through one trainer.
      produce(kafka, uninterrupted, 0, 8);
      AdapterSnapshot straight;
      try (ContinualTrainer only = trainer(base, kafka, uninterrupted, "only")) {
        straight = awaitExamplesSeen(kafka, uninterrupted, 8);
      }

      assertThat(resumed.getVersion()).isEqualTo(4);
      assertThat(resumed.getParentVersion()).isEqualTo(3L);
      assertThat(resumed.getWeightsSha256()).isEqualTo(straight.getWeightsSha256());
      assertThat(resumed.getTrainedThrough()).singleElement()
          .satisfies(t -> assertThat(t.getNextOffset()).isEqualTo(8));
      // Every published version trained on strictly more examples: nothing was trained twice.
      List<AdapterSnapshot> versions = TopicProbe.readUntil(kafka, interrupted.adapters().name(),
          r -> r.size() >= 4, Duration.ofSeconds(10)).stream().map(ContinualTrainerRecoveryTest::decode).toList();
      assertThat(versions).extracting(AdapterSnapshot::getExamplesSeen).containsExactly(2L, 4L, 6L, 8L);
    }
  }

  /**
   * A cycle's commit runs while the next cycle's step trains on the weights it commits. Forced to
   * fail at that moment, the commit is aborted, the step thrown away, and the trainer goes back to
   * the commit before: the weights and the versions are those of a run whose commits all succeeded.
   */
  @Test
  void commitFailingWhileTheNextStepRunsLosesAndRepeatsNothing() throws Exception {
    KafkaSettings kafka = KAFKA.settings();
    Topics failing = new Topics("failing-commit.");
    Topics succeeding = new Topics("succeeding-commit.");
    TopicAdmin.ensureTopics(kafka, failing);
    TopicAdmin.ensureTopics(kafka, succeeding);

    try (BaseModel base = BaseModel.load(modelDir)) {
      produce(kafka, failing, 0, 8); // 4 micro-batches of one tenant: one a cycle
      AtomicInteger stepsStarted = new AtomicInteger();
      AtomicInteger commits = new AtomicInteger();
      AtomicBoolean stepRanDuringFailingCommit = new AtomicBoolean();
      Metrics metrics = Metrics.create();
      AdapterSnapshot recovered;
      ContinualTrainer.StepFunction counting = group -> {
        stepsStarted.incrementAndGet();
        return ContinualTrainer.fusedStep(group);
      };
      try (ContinualTrainer trainer = new ContinualTrainer(base, kafka, failing, failing.cleanExamples().name(),
          SETTINGS.withInstanceId("failing"), metrics, counting).beforeEachCommit(() -> {
            if (commits.incrementAndGet() == 2) { // the cycle of examples 2-3
              long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
              while (stepsStarted.get() < 3 && System.nanoTime() < deadline) {
                Thread.onSpinWait();
              }
              stepRanDuringFailingCommit.set(stepsStarted.get() >= 3); // examples 4-5, on top of 2-3
              throw new KafkaException("commit failed on purpose");
            }
          }).start()) {
        recovered = awaitExamplesSeen(kafka, failing, 8);
      }

      produce(kafka, succeeding, 0, 8);
      AdapterSnapshot straight;
      try (ContinualTrainer only = trainer(base, kafka, succeeding, "succeeding")) {
        straight = awaitExamplesSeen(kafka, succeeding, 8);
      }

      assertThat(stepRanDuringFailingCommit).as("the next cycle's step ran while the commit was in flight").isTrue();
      // Steps: 0-1, 2-3, 4-5 (thrown away), then 2-3, 4-5, 6-7 again after the rewind.
      assertThat(stepsStarted.get()).isEqualTo(6);
      assertThat(recovered.getWeightsSha256()).isEqualTo(straight.getWeightsSha256());
      assertThat(recovered.getVersion()).isEqualTo(4);
      List<AdapterSnapshot> versions = TopicProbe.readUntil(kafka, failing.adapters().name(),
          r -> r.size() >= 4, Duration.ofSeconds(10)).stream().map(ContinualTrainerRecoveryTest::decode).toList();
      assertThat(versions).extracting(AdapterSnapshot::getExamplesSeen).containsExactly(2L, 4L, 6L, 8L);
      assertThat(metrics.trainerCommitWaitSeconds.collect().getDataPoints().get(0).getCount()).isPositive();
    }
  }

  private static ContinualTrainer trainer(BaseModel base, KafkaSettings kafka, Topics topics, String instance) {
    return new ContinualTrainer(base, kafka, topics, topics.cleanExamples().name(), SETTINGS.withInstanceId(instance),
        Metrics.create()).start();
  }

  /** Straight to the trainer's input; untagged examples are train examples. */
  private static void produce(KafkaSettings kafka, Topics topics, int from, int to) {
    try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(kafka.producer(), new StringSerializer(),
        new ByteArraySerializer())) {
      for (int i = from; i < to; i++) {
        TrainingExample e = TrainingExample.newBuilder().setId("t-" + i).setTenant("tenant-a")
            .setPrompt("Question " + i + "?\nAnswer:").setCompletion(" answer " + i + ".").setWeight(1f)
            .setEventTime(Instant.ofEpochMilli(1_000_000L + i)).setMetadata(Map.of()).build();
        producer.send(new ProducerRecord<>(topics.cleanExamples().name(), "tenant-a", AvroCodec.TRAINING_EXAMPLE.encode(e)));
      }
    }
  }

  private static AdapterSnapshot awaitExamplesSeen(KafkaSettings kafka, Topics topics, long seen) {
    List<ConsumerRecord<String, byte[]>> records = TopicProbe.readUntil(kafka, topics.adapters().name(),
        r -> r.stream().anyMatch(x -> decode(x).getExamplesSeen() >= seen), Duration.ofSeconds(90));
    return records.stream().map(ContinualTrainerRecoveryTest::decode)
        .filter(s -> s.getExamplesSeen() >= seen).findFirst().orElseThrow();
  }

  private static AdapterSnapshot decode(ConsumerRecord<String, byte[]> record) {
    return AvroCodec.ADAPTER_SNAPSHOT.decode(record.value());
  }
}
