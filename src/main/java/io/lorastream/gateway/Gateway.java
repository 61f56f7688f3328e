package io.lorastream.gateway;

import io.lorastream.kafka.KafkaSettings;
import io.lorastream.kafka.Topics;
import io.lorastream.metrics.Metrics;
import io.lorastream.model.BaseModel;
import io.vertx.core.Vertx;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * A running gateway: the inference engine, the adapter store and its follower, the Kafka inference
 * service, the dead letter counter of the status page, and the HTTP verticle. Started in that order, closed in reverse.
 */
public final class Gateway implements AutoCloseable {
  private final Vertx vertx;
  private final InferenceEngine engine;
  private final AdapterFollower follower;
  private final AdapterStore store;
  private final ExampleSink sink;
  private final KafkaInferenceService kafkaInference;
  private final DlqCounter dlq;
  private final GatewayVerticle verticle;

  private Gateway(Vertx vertx, InferenceEngine engine, AdapterFollower follower, AdapterStore store, ExampleSink sink,
      KafkaInferenceService kafkaInference, DlqCounter dlq, GatewayVerticle verticle) {
    this.vertx = vertx;
    this.engine = engine;
    this.follower = follower;
    this.store = store;
    this.sink = sink;
    this.kafkaInference = kafkaInference;
    this.dlq = dlq;
    this.verticle = verticle;
  }

  /** Starts following adapters, answering Kafka requests and listening for HTTP; returns once bound. */
  public static Gateway start(BaseModel base, KafkaSettings kafka, Topics topics, GatewaySettings settings,
      ApiKeys keys, Metrics metrics) {
    InferenceEngine engine = new InferenceEngine(base, settings.queueCapacity(), settings.maxBatchRows(),
        settings.adapterMemoryBytes(), metrics);
    AdapterStore store = new AdapterStore(base, metrics, engine, settings.adapterDirectory(), settings.versionsKept());
    AdapterFollower follower = new AdapterFollower(kafka, topics.adapters().name(), store).start();
    ExampleSink sink = new ExampleSink(kafka, topics.examples().name());
    KafkaInferenceService kafkaInference = new KafkaInferenceService(kafka, topics, store, engine, settings).start();
    DlqCounter dlq = new DlqCounter(kafka, topics.dlq().name()).start();
    RateLimiter limiter = new RateLimiter(settings.tenantRequestsPerSecond(), settings.tenantBurst());
    GatewayVerticle verticle = new GatewayVerticle(settings, keys, follower,
        new CompletionRoutes(settings, store, engine, limiter, metrics, base.tokenizer(), base.config().vocabSize()),
        new AdapterRoutes(store, base.directory().getFileName().toString()),
        new ExampleRoutes(sink, limiter),
        new StatusRoutes(store, dlq, follower, Clock.systemUTC()),
        metrics);
    Vertx vertx = Vertx.vertx();
    Gateway gateway = new Gateway(vertx, engine, follower, store, sink, kafkaInference, dlq, verticle);
    try {
      vertx.deployVerticle(verticle).await(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      gateway.close();
      throw new IllegalStateException("gateway could not listen on " + settings.host() + ":" + settings.port()
          + ": " + e.getMessage(), e);
    }
    return gateway;
  }

  public int port() {
    return verticle.actualPort();
  }

  public AdapterStore store() {
    return store;
  }

  /** Waits until the adapter store has caught up with the adapters topic. */
  public boolean awaitReady(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!follower.caughtUp()) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      Thread.sleep(20);
    }
    return true;
  }

  @Override
  public void close() {
    try {
      vertx.close().await(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      // closing the rest anyway
    }
    kafkaInference.close();
    sink.close();
    dlq.close();
    follower.close();
    engine.close();
    store.deleteFiles();
  }
}
