package io.lorastream;

import static org.assertj.core.api.Assertions.assertThat;

import io.lorastream.avro.AdapterSnapshot;
import io.lorastream.avro.TrainingExample;
import io.lorastream.contract.AvroCodec;
import io.lorastream.gateway.ApiKeys;
import io.lorastream.contract.Splits;
import io.lorastream.gateway.Gateway;
import io.lorastream.gateway.GatewaySettings;
import io.lorastream.ingest.IngestService;
import io.lorastream.ingest.IngestSettings;
import io.lorastream.kafka.KafkaSettings;
import io.lorastream.kafka.TopicAdmin;
import io.lorastream.kafka.Topics;
import io.lorastream.metrics.Metrics;
import io.lorastream.model.BaseModel;
import io.lorastream.model.TinyModelFactory;
import io.lorastream.testing.EmbeddedKafkaExtension;
import io.lorastream.testing.TopicProbe;
import io.lorastream.train.ContinualTrainer;
import io.lorastream.train.TrainerSettings;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Examples in through the real broker, through ingest to the clean topic, a snapshot out, and the
 * gateway serving it over HTTP.
 */
class EndToEndTest {
  @RegisterExtension
  static final EmbeddedKafkaExtension KAFKA = new EmbeddedKafkaExtension();

  private static final String KEY = "ls-e2e-key";

  @TempDir
  Path modelDir;

  @TempDir
  Path ingestState;

  @Test
  void examplesBecomeAServedAdapterAndBadRecordsGoToTheDlq() throws Exception {
    TinyModelFactory.create(modelDir, 7);
    KafkaSettings kafka = KAFKA.settings();
    Topics topics = new Topics("e2e.");
    TopicAdmin.ensureTopics(kafka, topics);
    Metrics metrics = Metrics.create();
    TrainerSettings trainerSettings = TrainerSettings.defaults().withBatching(2, Duration.ofMillis(200));
    IngestSettings ingestSettings = IngestSettings.defaults().withApplicationId("e2e-ingest");
    List<String> trainIds = new ArrayList<>();
    String holdoutId = null;
    for (int i = 0; trainIds.size() < 4 || holdoutId == null; i++) {
      String id = "acme-" + i;
      if (Splits.assign("acme", id, ingestSettings.holdoutShare()).equals(Splits.TRAIN)) {
        if (trainIds.size() < 4) {
          trainIds.add(id);
        }
      } else if (holdoutId == null) {
        holdoutId = id;
      }
    }

    try (BaseModel base = BaseModel.load(modelDir);
        IngestService ingest = IngestService.start(kafka, topics, ingestSettings, metrics, ingestState);
        ContinualTrainer trainer = new ContinualTrainer(base, kafka, topics, topics.cleanExamples().name(),
            trainerSettings, metrics).start();
        Gateway gateway = Gateway.start(base, kafka, topics, GatewaySettings.defaults().withPort(0),
            ApiKeys.of(List.of(ApiKeys.entry("acme-app", "acme", KEY))), metrics);
        KafkaProducer<String, byte[]> producer = new KafkaProducer<>(kafka.producer(), new StringSerializer(),
            new ByteArraySerializer())) {
      // Two train examples, a duplicate of the first, the holdout example, two more train examples.
      List<String> sent = List.of(trainIds.get(0), trainIds.get(1), trainIds.get(0), holdoutId, trainIds.get(2),
          trainIds.get(3));
      for (String id : sent) {
        producer.send(new ProducerRecord<>(topics.examples().name(), "acme", AvroCodec.TRAINING_EXAMPLE.encode(
            example("acme", id, "Question: refund window?\nAnswer:", " 30 days."))));
      }
      producer.send(new ProducerRecord<>(topics.examples().name(), "acme",
          "{\"not\": \"avro\"}".getBytes(StandardCharsets.UTF_8)));
      producer.send(new ProducerRecord<>(topics.examples().name(), "Bad Tenant", AvroCodec.TRAINING_EXAMPLE.encode(
          example("Bad Tenant", "x-1", "p", "c"))));
      producer.flush();

      // Ingest drops the duplicate and tags the holdout example; order within the tenant is kept.
      String lastId = trainIds.get(3);
      List<ConsumerRecord<String, byte[]>> clean = TopicProbe.readUntil(kafka, topics.cleanExamples().name(),
          records -> records.stream().anyMatch(r -> example(r).getId().equals(lastId)), Duration.ofSeconds(60));
      assertThat(clean).extracting(r -> example(r).getId()).containsExactly(trainIds.get(0), trainIds.get(1),
          holdoutId, trainIds.get(2), trainIds.get(3));
      assertThat(clean).extracting(r -> Splits.of(example(r)))
          .containsExactly(Splits.TRAIN, Splits.TRAIN, Splits.HOLDOUT, Splits.TRAIN, Splits.TRAIN);

      // The trainer publishes a snapshot that has seen the four train examples and never the holdout one.
      List<ConsumerRecord<String, byte[]>> snapshots = TopicProbe.readUntil(kafka, topics.adapters().name(),
          records -> records.stream().anyMatch(r -> decode(r).getExamplesSeen() == 4), Duration.ofSeconds(90));
      assertThat(snapshots).allSatisfy(r -> assertThat(decode(r).getExamplesSeen()).isLessThanOrEqualTo(4));
      assertThat(metrics.trainerExamples.labelValues("holdout").getLongValue()).isEqualTo(1);
      assertThat(metrics.ingestExamples.labelValues("duplicate").getLongValue()).isEqualTo(1);
      AdapterSnapshot last = decode(snapshots.get(snapshots.size() - 1));
      assertThat(last.getTenant()).isEqualTo("acme");
      assertThat(last.getVersion()).isGreaterThanOrEqualTo(1);
      assertThat(last.getBaseModelSha256()).isEqualTo(base.weightsSha256());
      assertThat(last.getTrainedThrough()).singleElement()
          .satisfies(t -> assertThat(t.getNextOffset()).isGreaterThanOrEqualTo(4));

      // Both bad records are in the DLQ with their original bytes and a reason.
      List<ConsumerRecord<String, byte[]>> dead = TopicProbe.readUntil(kafka, topics.dlq().name(),
          records -> records.size() >= 2, Duration.ofSeconds(30));
      assertThat(dead).hasSize(2);
      assertThat(dead).extracting(r -> new String(r.headers().lastHeader(Topics.ERROR_HEADER).value(),
          StandardCharsets.UTF_8)).anySatisfy(reason -> assertThat(reason).startsWith("bad-magic"))
          .anySatisfy(reason -> assertThat(reason).startsWith("invalid-tenant"));
      assertThat(dead).anySatisfy(r -> assertThat(new String(r.value(), StandardCharsets.UTF_8))
          .isEqualTo("{\"not\": \"avro\"}"));

      // The gateway serves the newest version of acme.
      HttpClient http = HttpClient.newHttpClient();
      String url = "http://127.0.0.1:" + gateway.port();
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      JsonObject served = null;
      while (served == null && System.nanoTime() < deadline) {
        JsonArray models = new JsonObject(http.send(HttpRequest.newBuilder(URI.create(url + "/v1/models"))
            .header("Authorization", "Bearer " + KEY).build(),
            HttpResponse.BodyHandlers.ofString()).body()).getJsonArray("data");
        for (int i = 0; i < models.size(); i++) {
          JsonObject m = models.getJsonObject(i);
          if (m.getString("id").equals("acme") && m.getLong("version") == last.getVersion()) {
            served = m;
          }
        }
        Thread.sleep(100);
      }
      assertThat(served).as("acme v%d in /v1/models", last.getVersion()).isNotNull();

      HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(url + "/v1/completions"))
          .header("Content-Type", "application/json")
          .header("Authorization", "Bearer " + KEY)
          .POST(HttpRequest.BodyPublishers.ofString(new JsonObject().put("model", "acme")
              .put("prompt", "Question: refund window?\nAnswer:").put("max_tokens", 8).encode()))
          .build(), HttpResponse.BodyHandlers.ofString());
      assertThat(response.statusCode()).isEqualTo(200);
      JsonObject body = new JsonObject(response.body());
      assertThat(body.getJsonObject("adapter").getLong("version")).isEqualTo(last.getVersion());
      assertThat(response.headers().firstValue("X-Adapter-Version")).hasValue(Long.toString(last.getVersion()));
      // After two steps the tiny model's answer is not yet meaningful (it may even stop at once);
      // that adapters learn their answers is checked in the model tests.
      assertThat(body.getJsonArray("choices").getJsonObject(0).getString("text")).isNotNull();
      assertThat(body.getJsonObject("usage").getInteger("completion_tokens")).isBetween(0, 8);
    }
  }

  static TrainingExample example(String tenant, String id, String prompt, String completion) {
    return TrainingExample.newBuilder().setId(id).setTenant(tenant).setPrompt(prompt).setCompletion(completion)
        .setWeight(1f).setEventTime(Instant.now()).setMetadata(Map.of()).build();
  }

  private static TrainingExample example(ConsumerRecord<String, byte[]> record) {
    return AvroCodec.TRAINING_EXAMPLE.decode(record.value());
  }

  private static AdapterSnapshot decode(ConsumerRecord<String, byte[]> record) {
    return AvroCodec.ADAPTER_SNAPSHOT.decode(record.value());
  }
}
