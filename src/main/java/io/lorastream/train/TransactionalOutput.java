package io.lorastream.train;

import io.lorastream.kafka.KafkaSettings;
import java.time.Duration;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The trainer's transactional producer, kept usable across broker outages. A transaction that
 * failed (a send that timed out, a commit the coordinator never answered) is ended by
 * {@link #abort()}: an abort when the producer can still abort, else a fresh producer with the same
 * transactional id, whose {@code initTransactions} makes the coordinator abort what the old one left
 * open. Either throws {@link TimeoutException} while the broker is unreachable; calling again goes
 * on where it stopped. Fencing and authorization errors are fatal and passed on.
 */
final class TransactionalOutput implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(TransactionalOutput.class);

  private final KafkaSettings kafka;
  private final String transactionalId;
  private KafkaProducer<String, byte[]> producer;
  /** True when the producer cannot abort (fatal state, or not yet initialised): it is replaced. */
  private boolean replace = true;

  TransactionalOutput(KafkaSettings kafka, String transactionalId) {
    this.kafka = kafka;
    this.transactionalId = transactionalId;
  }

  /** The producer for the current transaction; valid until the next {@link #abort()}. */
  KafkaProducer<String, byte[]> producer() {
    if (replace) {
      throw new IllegalStateException("the transactional producer is not initialised");
    }
    return producer;
  }

  /**
   * Makes a ready producer: the first one, or a fresh one after a fatal error. Its
   * {@code initTransactions} fences any earlier producer with this id and aborts its open transaction.
   *
   * @throws TimeoutException while the broker is unreachable; call again
   */
  void initialise() {
    if (producer != null) {
      producer.close(Duration.ZERO);
    }
    producer = new KafkaProducer<>(kafka.transactionalProducer(transactionalId), new StringSerializer(),
        new ByteArraySerializer());
    producer.initTransactions();
    replace = false;
  }

  /**
   * Ends the open transaction without committing anything of it.
   *
   * @throws TimeoutException while the broker is unreachable; call again
   */
  void abort() {
    if (!replace) {
      try {
        producer.abortTransaction();
        return;
      } catch (TimeoutException e) {
        throw e;
      } catch (ProducerFencedException | OutOfOrderSequenceException | AuthorizationException e) {
        throw e;
      } catch (KafkaException | IllegalStateException e) {
        log.warn("transactional producer {} cannot abort ({}); replacing it", transactionalId, e.toString());
        replace = true;
      }
    }
    initialise();
  }

  @Override
  public void close() {
    if (producer != null) {
      producer.close(Duration.ofSeconds(5));
    }
  }
}
