package io.lorastream.gateway;

import io.lorastream.kafka.KafkaSettings;
import io.lorastream.kafka.Topics;
import io.lorastream.metrics.Metrics;
import io.lorastream.model.BaseModel;
import io.lorastream.model.Generator;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/** A running gateway: inference engine, adapter store and follower, and the HTTP verticle. */
public final class Gateway implements AutoCloseable {
  private final Vertx vertx;
  private final InferenceEngine engine;
  private final AdapterFollower follower;
  private final AdapterStore store;
  private final GatewayVerticle verticle;

  private Gateway(Vertx vertx, InferenceEngine engine, AdapterFollower follower, AdapterStore store,
      GatewayVerticle verticle) {
    this.vertx = vertx;
    this.engine = engine;
    this.follower = follower;
    this.store = store;
    this.verticle = verticle;
  }

  /** Starts following adapters and listening for HTTP; returns once the server is bound. */
  public static Gateway start(BaseModel base, KafkaSettings kafka, Topics topics, GatewaySettings settings,
      Metrics metrics) {
    InferenceEngine engine = new InferenceEngine(new Generator(base), settings.queueCapacity());
    AdapterStore store = new AdapterStore(base, metrics, engine::retire);
    AdapterFollower follower = new AdapterFollower(kafka, topics.adapters().name(), store).start();
    Vertx vertx = Vertx.vertx();
    GatewayVerticle verticle = new GatewayVerticle(settings, store, follower, engine, metrics);
    try {
      vertx.deployVerticle(verticle).await(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      follower.close();
      engine.close();
      vertx.close();
      throw new IllegalStateException("gateway could not listen on " + settings.host() + ":" + settings.port()
          + ": " + e.getMessage(), e);
    }
    return new Gateway(vertx, engine, follower, store, verticle);
  }

  public int port() {
    return verticle.actualPort();
  }

  public boolean ready() {
    return follower.caughtUp();
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
      // closing anyway
    }
    follower.close();
    engine.close();
  }
}
