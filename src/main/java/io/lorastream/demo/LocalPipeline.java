package io.lorastream.demo;

import io.lorastream.gateway.ApiKeys;
import io.lorastream.gateway.Gateway;
import io.lorastream.gateway.GatewaySettings;
import io.lorastream.ingest.IngestService;
import io.lorastream.ingest.IngestSettings;
import io.lorastream.kafka.EmbeddedKafkaBroker;
import io.lorastream.kafka.KafkaSettings;
import io.lorastream.kafka.TopicAdmin;
import io.lorastream.kafka.Topics;
import io.lorastream.metrics.Metrics;
import io.lorastream.model.BaseModel;
import io.lorastream.train.ContinualTrainer;
import io.lorastream.train.TrainerSettings;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The whole pipeline in one process: an embedded Kafka broker, ingest, the continual trainer and
 * the gateway, started in that order and stopped in reverse. The demo and the in-process quality
 * evaluation both run on it; whatever produces examples talks to {@link #kafka()}.
 */
public final class LocalPipeline implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(LocalPipeline.class);

  private final EmbeddedKafkaBroker broker;
  private final KafkaSettings kafka;
  private final Topics topics = new Topics();
  private final IngestService ingest;
  private final BaseModel base;
  private final ContinualTrainer trainer;
  private final Gateway gateway;

  /**
   * @param dataDir where the broker and ingest's dedupe store keep their data
   * @param baseModelDir the base model to fine-tune and serve
   * @param httpPort gateway port (0 = any free port)
   */
  public LocalPipeline(Path dataDir, Path baseModelDir, int httpPort, TrainerSettings trainerSettings, ApiKeys keys) {
    Metrics metrics = Metrics.create();
    broker = EmbeddedKafkaBroker.start(dataDir.resolve("kafka"), 0);
    kafka = KafkaSettings.of(broker.bootstrapServers());
    TopicAdmin.ensureTopics(kafka, topics);
    ingest = IngestService.start(kafka, topics, IngestSettings.defaults(), metrics, dataDir.resolve("ingest"));
    base = BaseModel.load(baseModelDir);
    log.info("base model {} (sha256 {})", baseModelDir, base.weightsSha256());
    trainer = new ContinualTrainer(base, kafka, topics, topics.cleanExamples().name(), trainerSettings, metrics).start();
    gateway = Gateway.start(base, kafka, topics, GatewaySettings.defaults().withPort(httpPort), keys, metrics);
  }

  public KafkaSettings kafka() {
    return kafka;
  }

  public Topics topics() {
    return topics;
  }

  public BaseModel base() {
    return base;
  }

  public Gateway gateway() {
    return gateway;
  }

  public String bootstrapServers() {
    return broker.bootstrapServers();
  }

  @Override
  public void close() {
    gateway.close();
    trainer.close();
    ingest.close();
    base.close();
    broker.close();
  }
}
