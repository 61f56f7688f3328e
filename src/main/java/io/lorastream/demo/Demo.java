package io.lorastream.demo;

import io.lorastream.contract.AvroCodec;
import io.lorastream.gateway.ApiKeys;
import io.lorastream.kafka.KafkaSettings;
import io.lorastream.kafka.Topics;
import io.lorastream.quality.TenantFacts;
import io.lorastream.train.TrainerSettings;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Everything in one process ({@link LocalPipeline}: embedded Kafka broker, ingest, trainer,
 * gateway) and a producer of the customer-service dataset's examples for the demo tenants. Runs
 * until interrupted (Ctrl-C), then stops in order.
 */
public final class Demo implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Demo.class);

  private final LocalPipeline pipeline;
  private final Thread producer;
  private final CountDownLatch stopProducing = new CountDownLatch(1);
  private final Map<String, String> keys = new LinkedHashMap<>();

  /**
   * @param dataDir where the broker and ingest's dedupe store keep their data
   * @param baseModelDir the base model to fine-tune
   * @param httpPort gateway port (0 = any free port)
   * @param examplesPerSecond synthetic examples produced per second, over all tenants
   */
  public Demo(Path dataDir, Path baseModelDir, int httpPort, double examplesPerSecond) {
    TrainerSettings trainerSettings = TrainerSettings.defaults().withBatching(4, Duration.ofMillis(500));
    pipeline = new LocalPipeline(dataDir, baseModelDir, httpPort, trainerSettings, apiKeys());
    producer = new Thread(() -> produce(pipeline.kafka(), pipeline.topics(), examplesPerSecond),
        "lorastream-demo-producer");
    producer.setDaemon(true);
    producer.start();
  }

  /** Fresh keys for this run: one admin key and one per demo tenant, never stored. */
  private ApiKeys apiKeys() {
    List<ApiKeys.Entry> entries = new ArrayList<>();
    keys.put("admin", ApiKeys.newKey());
    entries.add(ApiKeys.entry("demo-admin", null, keys.get("admin")));
    for (TenantFacts tenant : SyntheticExamples.TENANTS) {
      keys.put(tenant.tenant(), ApiKeys.newKey());
      entries.add(ApiKeys.entry("demo-" + tenant.tenant(), tenant.tenant(), keys.get(tenant.tenant())));
    }
    return ApiKeys.of(entries);
  }

  /** The API keys of this run: "admin" and each demo tenant id → key. */
  public Map<String, String> apiKeysByOwner() {
    return Collections.unmodifiableMap(keys);
  }

  public int httpPort() {
    return pipeline.gateway().port();
  }

  public String bootstrapServers() {
    return pipeline.bootstrapServers();
  }

  private void produce(KafkaSettings kafka, Topics topics, double perSecond) {
    long pauseMillis = Math.max(1, Math.round(1000 / perSecond));
    try (KafkaProducer<String, byte[]> p = new KafkaProducer<>(kafka.producer(), new StringSerializer(),
        new ByteArraySerializer())) {
      for (long n = 0; ; n++) {
        TenantFacts tenant = SyntheticExamples.TENANTS.get((int) (n % SyntheticExamples.TENANTS.size()));
        long perTenant = n / SyntheticExamples.TENANTS.size();
        p.send(new ProducerRecord<>(topics.examples().name(), tenant.tenant(),
            AvroCodec.TRAINING_EXAMPLE.encode(SyntheticExamples.example(tenant, perTenant))));
        if (stopProducing.await(pauseMillis, TimeUnit.MILLISECONDS)) {
          return;
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException e) {
      log.warn("demo producer stopped: {}", e.toString());
    }
  }

  @Override
  public void close() {
    stopProducing.countDown();
    try {
      producer.join(5_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    pipeline.close();
  }
}
