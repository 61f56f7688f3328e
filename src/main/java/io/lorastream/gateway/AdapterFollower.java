package io.lorastream.gateway;

import io.lorastream.contract.AvroCodec;
import io.lorastream.contract.CodecException;
import io.lorastream.kafka.KafkaSettings;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Follows the compacted adapters topic from its beginning into the {@link AdapterStore}, on its own
 * thread. Ready once it has read up to the end offsets seen at start. While Kafka is away the store
 * keeps what it has, and the consumer keeps retrying.
 */
public final class AdapterFollower implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(AdapterFollower.class);
  /** How often the follower asks Kafka for the topic's end offsets, to know whether Kafka answers. */
  private static final Duration PROBE_EVERY = Duration.ofSeconds(1);
  /** How long a probe waits for that answer before calling Kafka unreachable. */
  private static final Duration PROBE_TIMEOUT = Duration.ofSeconds(1);

  private final KafkaSettings kafka;
  private final String topic;
  private final AdapterStore store;
  private final Thread thread;
  private volatile boolean running = true;
  private volatile boolean caughtUp;
  private volatile boolean kafkaAnswered;
  private volatile KafkaConsumer<String, byte[]> consumer;

  public AdapterFollower(KafkaSettings kafka, String topic, AdapterStore store) {
    this.kafka = kafka;
    this.topic = topic;
    this.store = store;
    this.thread = new Thread(this::run, "lorastream-adapter-follower");
    this.thread.setDaemon(true);
  }

  public AdapterFollower start() {
    thread.start();
    return this;
  }

  /**
   * Whether Kafka answered the follower's last probe (a request for the adapters topic's end
   * offsets, made every {@link #PROBE_EVERY}). False while Kafka is away: the store then serves what
   * it has, and catches up when Kafka is back. An open socket alone is no proof, since the consumer
   * counts the connections it is still trying to open.
   */
  public boolean kafkaConnected() {
    return kafkaAnswered;
  }

  /** True once every snapshot published before start has been applied (or refused). */
  public boolean caughtUp() {
    return caughtUp;
  }

  private void run() {
    // A group id is needed by read_committed consumers' config; nothing is committed: we always re-read.
    Map<String, Object> props = kafka.consumer("lorastream-gateway-" + UUID.randomUUID());
    try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(props, new StringDeserializer(),
        new ByteArrayDeserializer())) {
      consumer = c;
      Map<TopicPartition, Long> endAtStart = null;
      while (running && endAtStart == null) {
        endAtStart = endOffsetsAtStart(c);
      }
      kafkaAnswered = true;
      long nextProbe = System.nanoTime() + PROBE_EVERY.toNanos();
      while (running) {
        for (ConsumerRecord<String, byte[]> record : c.poll(Duration.ofMillis(200))) {
          apply(record);
        }
        if (System.nanoTime() - nextProbe >= 0) {
          kafkaAnswered = answers(c, endAtStart);
          nextProbe = System.nanoTime() + PROBE_EVERY.toNanos();
        }
        if (!caughtUp && reached(c, endAtStart)) {
          caughtUp = true;
          log.info("adapter store caught up: {} tenants", store.all().size());
        }
      }
    } catch (WakeupException e) {
      if (running) {
        throw e;
      }
    } catch (RuntimeException e) {
      log.error("adapter follower stopped: {}", e.toString(), e);
    }
  }

  /**
   * Assigns every partition of the topic from its beginning and returns their end offsets: what
   * must be read to be caught up. Null when Kafka did not answer within a minute (try again): the
   * gateway stays unready, however long Kafka is away, rather than give up following.
   */
  private Map<TopicPartition, Long> endOffsetsAtStart(KafkaConsumer<String, byte[]> c) {
    try {
      List<TopicPartition> partitions = c.partitionsFor(topic, Duration.ofMinutes(1)).stream()
          .map(p -> new TopicPartition(topic, p.partition())).toList();
      c.assign(partitions);
      c.seekToBeginning(partitions);
      return c.endOffsets(partitions, Duration.ofMinutes(1));
    } catch (TimeoutException e) {
      log.warn("adapters topic {} not reachable yet ({}); still trying", topic, e.getMessage());
      return null;
    }
  }

  /** Whether Kafka gives the partitions' end offsets within {@link #PROBE_TIMEOUT}. */
  private static boolean answers(KafkaConsumer<String, byte[]> c, Map<TopicPartition, Long> partitions) {
    try {
      c.endOffsets(partitions.keySet(), PROBE_TIMEOUT);
      return true;
    } catch (TimeoutException e) {
      return false;
    }
  }

  /** Whether every partition's position has reached its end offset; false while Kafka cannot say. */
  private static boolean reached(KafkaConsumer<String, byte[]> c, Map<TopicPartition, Long> end) {
    try {
      return end.entrySet().stream().allMatch(e -> c.position(e.getKey(), Duration.ofSeconds(1)) >= e.getValue());
    } catch (TimeoutException e) {
      return false;
    }
  }

  private void apply(ConsumerRecord<String, byte[]> record) {
    if (record.value() == null) {
      store.remove(record.key());
      return;
    }
    try {
      store.apply(AvroCodec.ADAPTER_SNAPSHOT.decode(record.value()));
    } catch (CodecException e) {
      store.rejectUndecodable(record.topic() + "-" + record.partition() + "@" + record.offset() + ": " + e.dlqReason());
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
