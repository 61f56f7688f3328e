package io.lorastream.ingest;

import io.lorastream.kafka.KafkaSettings;
import io.lorastream.kafka.Topics;
import io.lorastream.metrics.Metrics;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs {@link IngestTopology} with Kafka Streams, exactly once ({@code exactly_once_v2}): a clean
 * record, a dead letter, the dedupe store's changelog and the consumed offset are committed in one
 * transaction. The topics must exist ({@link io.lorastream.kafka.TopicAdmin#ensureTopics}).
 */
public final class IngestService implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(IngestService.class);
  private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(30);

  private final KafkaStreams streams;
  private final String applicationId;

  private IngestService(KafkaStreams streams, String applicationId) {
    this.streams = streams;
    this.applicationId = applicationId;
  }

  /**
   * Starts ingest and returns at once; Kafka Streams joins its group and restores the dedupe store
   * in the background (see {@link #state()}).
   *
   * @param stateDir where the dedupe store lives (RocksDB); one directory per running instance
   */
  public static IngestService start(KafkaSettings kafka, Topics topics, IngestSettings settings, Metrics metrics,
      Path stateDir) {
    StreamsBuilder builder = new StreamsBuilder();
    IngestTopology.build(builder, topics, settings, metrics);
    Properties props = streamsProperties(kafka, settings, stateDir);
    KafkaStreams streams = new KafkaStreams(builder.build(props), props);
    String id = settings.applicationId();
    streams.setStateListener((now, before) -> {
      if (now == KafkaStreams.State.ERROR) {
        log.error("ingest {}: {} -> {}", id, before, now);
      } else {
        log.info("ingest {}: {} -> {}", id, before, now);
      }
    });
    streams.setUncaughtExceptionHandler(e -> {
      // Bad data never gets here (it goes to the DLQ): this is a fault of the set-up or of
      // Kafka, and a replaced thread would meet it again.
      log.error("ingest {} stops: {}", id, e.toString(), e);
      return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
    });
    streams.start();
    log.info("ingest {} reading {}, writing {} and {} (dedupe window {}, holdout share {})", id,
        topics.examples().name(), topics.cleanExamples().name(), topics.dlq().name(), settings.dedupeWindow(),
        settings.holdoutShare());
    return new IngestService(streams, id);
  }

  /**
   * The Kafka Streams configuration: lorastream's defaults, then the pass-through client properties
   * (TLS, SASL, ...), then what ingest relies on: its application id, exactly-once and the brokers.
   */
  public static Properties streamsProperties(KafkaSettings kafka, IngestSettings settings, Path stateDir) {
    Properties props = new Properties();
    // Clean examples reach the trainer within ~0.1 s: a transaction commits every 100 ms.
    props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 100);
    // -1: internal topics take the broker's default replication factor (1 on a dev broker).
    props.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, -1);
    props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toAbsolutePath().toString());
    // There are no global stores; opting in to the Kafka 5.0 behaviour now silences a start-up warning.
    props.put(StreamsConfig.PROCESSING_EXCEPTION_HANDLER_GLOBAL_ENABLED_CONFIG, true);
    // A dead letter carries the original bytes, which may be as large as the broker accepts (50 MiB):
    // with the client default of 1 MiB one oversized example would stop ingest (RecordTooLargeException).
    props.put(StreamsConfig.producerPrefix(ProducerConfig.MAX_REQUEST_SIZE_CONFIG), KafkaSettings.MAX_REQUEST_BYTES);
    props.put(StreamsConfig.producerPrefix(ProducerConfig.BUFFER_MEMORY_CONFIG), KafkaSettings.BUFFER_MEMORY_BYTES);
    props.put(StreamsConfig.producerPrefix(ProducerConfig.COMPRESSION_TYPE_CONFIG), "lz4");
    props.put(StreamsConfig.consumerPrefix(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG), KafkaSettings.MAX_FETCH_BYTES);
    props.put(StreamsConfig.consumerPrefix(ConsumerConfig.FETCH_MAX_BYTES_CONFIG), KafkaSettings.MAX_FETCH_BYTES);
    props.putAll(kafka.clientProperties());
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, settings.applicationId());
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
    props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
    return props;
  }

  public KafkaStreams.State state() {
    return streams.state();
  }

  public String applicationId() {
    return applicationId;
  }

  /** Stops processing, commits, and closes the store; waits up to 30 s. */
  @Override
  public void close() {
    if (!streams.close(CLOSE_TIMEOUT)) {
      log.warn("ingest {} did not stop within {} s", applicationId, CLOSE_TIMEOUT.toSeconds());
    }
  }
}
