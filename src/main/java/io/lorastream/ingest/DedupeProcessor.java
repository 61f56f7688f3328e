package io.lorastream.ingest;

import io.lorastream.avro.TrainingExample;
import io.lorastream.metrics.Metrics;
import java.time.Duration;
import java.util.Set;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.processor.api.FixedKeyProcessor;
import org.apache.kafka.streams.processor.api.FixedKeyProcessorContext;
import org.apache.kafka.streams.processor.api.FixedKeyProcessorSupplier;
import org.apache.kafka.streams.processor.api.FixedKeyRecord;
import org.apache.kafka.streams.state.StoreBuilder;
import org.apache.kafka.streams.state.Stores;
import org.apache.kafka.streams.state.WindowStore;
import org.apache.kafka.streams.state.WindowStoreIterator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Drops an example whose (tenant, id) was first seen less than the dedupe window ago, measured in
 * record timestamps (the clock Kafka Streams' stream time runs on), either side: a late copy of
 * an id is a duplicate too.
 *
 * <p>The store is a persistent <em>window store</em> of {@code tenant + "/" + id} → first-seen
 * timestamp with a retention of one window, not a key-value store with a punctuated sweep:
 * expiry then is dropping whole time segments as stream time advances, with no scan of millions
 * of ids and no punctuator, and it is changelogged, so the memory survives restarts and moves
 * with its partition. A lookup searches the few segments of the window. A copy of an id that
 * arrives with a timestamp older than stream time minus the window finds nothing and is passed.
 *
 * <p>The store is per partition: duplicates are found because examples are keyed (and so
 * partitioned) by tenant. Duplicates are not errors: they are counted and logged at debug, not
 * dead-lettered.
 */
final class DedupeProcessor implements FixedKeyProcessor<String, TrainingExample, TrainingExample> {
  static final String STORE = "ingest-dedupe";
  private static final Logger log = LoggerFactory.getLogger(DedupeProcessor.class);

  private final long windowMs;
  private final Metrics metrics;
  private FixedKeyProcessorContext<String, TrainingExample> context;
  private WindowStore<String, Long> seen;

  DedupeProcessor(Duration window, Metrics metrics) {
    this.windowMs = window.toMillis();
    this.metrics = metrics;
  }

  /** The processor with its store, for {@code KStream.processValues}. */
  static FixedKeyProcessorSupplier<String, TrainingExample, TrainingExample> supplier(
      Duration window, Metrics metrics) {
    return new FixedKeyProcessorSupplier<>() {
      @Override
      public FixedKeyProcessor<String, TrainingExample, TrainingExample> get() {
        return new DedupeProcessor(window, metrics);
      }

      @Override
      public Set<StoreBuilder<?>> stores() {
        // Entries are points in time, so the "window size" is 1 ms; the retention is the window.
        return Set.of(Stores.windowStoreBuilder(
            Stores.persistentWindowStore(STORE, window, Duration.ofMillis(1), false),
            Serdes.String(), Serdes.Long()));
      }
    };
  }

  @Override
  public void init(FixedKeyProcessorContext<String, TrainingExample> context) {
    this.context = context;
    this.seen = context.getStateStore(STORE);
  }

  @Override
  public void process(FixedKeyRecord<String, TrainingExample> record) {
    TrainingExample example = record.value();
    // Tenant ids have no '/', so the key is unambiguous.
    String key = example.getTenant() + "/" + example.getId();
    long at = record.timestamp();
    long firstSeen = firstSeenWithin(key, at);
    if (firstSeen != Long.MIN_VALUE) {
      metrics.ingestExamples.labelValues("duplicate").inc();
      log.debug("duplicate example {} at {} dropped (first seen at {})", key, at, firstSeen);
      return;
    }
    seen.put(key, at, at);
    context.forward(record);
  }

  /** The timestamp of a sighting of {@code key} less than a window away from {@code at}, or MIN_VALUE. */
  private long firstSeenWithin(String key, long at) {
    long from = Math.max(0, at - windowMs + 1);
    long to = at > Long.MAX_VALUE - windowMs ? Long.MAX_VALUE : at + windowMs - 1;
    try (WindowStoreIterator<Long> found = seen.fetch(key, from, to)) {
      return found.hasNext() ? found.next().value : Long.MIN_VALUE;
    }
  }
}
