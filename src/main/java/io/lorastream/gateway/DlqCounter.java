package io.lorastream.gateway;

import io.lorastream.kafka.KafkaSettings;
import io.lorastream.kafka.Topics;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Counts the records of the dead letter topic, read from its beginning on its own thread, by tenant
 * (the record key: ingest, the trainer and the Kafka inference service all keep the tenant as key)
 * and by reason code (the {@value Topics#ERROR_HEADER} header up to its first colon). The counts
 * cover whatever the topic still retains (7 days by default), not the life of the system.
 */
final class DlqCounter implements AutoCloseable {
  /** Key of records that had none. */
  static final String NO_TENANT = "(none)";
  /** Reason of records without the error header. */
  static final String NO_REASON = "(unknown)";
  private static final Logger log = LoggerFactory.getLogger(DlqCounter.class);

  /** Counts at one moment. */
  record Counts(long total, Map<String, Long> byTenant, Map<String, Long> byReason) {}

  private final KafkaSettings kafka;
  private final String topic;
  private final Thread thread;
  private final Map<String, Long> byTenant = new TreeMap<>();
  private final Map<String, Long> byReason = new TreeMap<>();
  private long total;
  private volatile boolean running = true;
  private volatile KafkaConsumer<String, byte[]> consumer;

  DlqCounter(KafkaSettings kafka, String topic) {
    this.kafka = kafka;
    this.topic = topic;
    this.thread = new Thread(this::run, "lorastream-dlq-counter");
    this.thread.setDaemon(true);
  }

  DlqCounter start() {
    thread.start();
    return this;
  }

  synchronized Counts counts() {
    return new Counts(total, Map.copyOf(byTenant), Map.copyOf(byReason));
  }

  synchronized void count(String key, String errorHeader) {
    total++;
    byTenant.merge(key == null ? NO_TENANT : key, 1L, Long::sum);
    byReason.merge(reasonCode(errorHeader), 1L, Long::sum);
  }

  /** {@code "invalid-tenant: explanation"} → {@code "invalid-tenant"}. */
  static String reasonCode(String errorHeader) {
    if (errorHeader == null || errorHeader.isBlank()) {
      return NO_REASON;
    }
    int colon = errorHeader.indexOf(':');
    return (colon < 0 ? errorHeader : errorHeader.substring(0, colon)).strip();
  }

  private void run() {
    Map<String, Object> props = kafka.consumer("lorastream-gateway-dlq-" + UUID.randomUUID());
    try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(props, new StringDeserializer(),
        new ByteArrayDeserializer())) {
      consumer = c;
      List<TopicPartition> partitions = c.partitionsFor(topic, Duration.ofMinutes(5)).stream()
          .map(p -> new TopicPartition(topic, p.partition())).toList();
      c.assign(partitions);
      c.seekToBeginning(partitions);
      while (running) {
        for (ConsumerRecord<String, byte[]> record : c.poll(Duration.ofMillis(500))) {
          Header error = record.headers().lastHeader(Topics.ERROR_HEADER);
          count(record.key(), error == null ? null : new String(error.value(), StandardCharsets.UTF_8));
        }
      }
    } catch (WakeupException e) {
      if (running) {
        log.error("dead letter counter stopped", e);
      }
    } catch (RuntimeException e) {
      log.error("dead letter counter stopped: {}", e.toString(), e);
    }
  }

  @Override
  public void close() {
    running = false;
    KafkaConsumer<String, byte[]> c = consumer;
    if (c != null) {
      c.wakeup();
    }
    try {
      thread.join(10_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
