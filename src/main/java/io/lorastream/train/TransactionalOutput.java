package io.lorastream.train;

import io.lorastream.kafka.KafkaSettings;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
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
 *
 * <p>A transaction's commit (the consumed offsets, then the commit itself, which waits until the
 * broker has every record sent in it) runs on a thread of its own ({@link #commitInBackground}),
 * so the trainer can run the next cycle's steps meanwhile; nothing may be sent, and no transaction
 * begun, until {@link #awaitCommit()} has returned.
 */
final class TransactionalOutput implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(TransactionalOutput.class);

  private final KafkaSettings kafka;
  private final String transactionalId;
  private KafkaProducer<String, byte[]> producer;
  /** True when the producer cannot abort (fatal state, or not yet initialised): it is replaced. */
  private boolean replace = true;
  private final ExecutorService committer;
  private final Runnable beforeCommit;
  /** The commit in flight (its duration in nanoseconds when done), or null. */
  private Future<Long> commit;

  TransactionalOutput(KafkaSettings kafka, String transactionalId) {
    this(kafka, transactionalId, () -> {});
  }

  /**
   * @param beforeCommit runs on the commit thread before each commit; what it throws fails that
   *     commit (tests force failures with it)
   */
  TransactionalOutput(KafkaSettings kafka, String transactionalId, Runnable beforeCommit) {
    this.kafka = kafka;
    this.transactionalId = transactionalId;
    this.beforeCommit = beforeCommit;
    this.committer = Executors.newSingleThreadExecutor(task -> {
      Thread thread = new Thread(task, "lorastream-commit-" + transactionalId);
      thread.setDaemon(true);
      return thread;
    });
  }

  /**
   * Starts committing the open transaction, with {@code offsets} consumed by {@code group}, on the
   * commit thread. Until {@link #awaitCommit()} returns, the producer must not be used.
   */
  void commitInBackground(Map<TopicPartition, OffsetAndMetadata> offsets, ConsumerGroupMetadata group) {
    if (commit != null) {
      throw new IllegalStateException("a commit is already in flight");
    }
    KafkaProducer<String, byte[]> p = producer();
    commit = committer.submit(() -> {
      long started = System.nanoTime();
      beforeCommit.run();
      p.sendOffsetsToTransaction(offsets, group);
      p.commitTransaction();
      return System.nanoTime() - started;
    });
  }

  /** Whether a commit was started and has not been awaited yet. */
  boolean commitInFlight() {
    return commit != null;
  }

  /** Whether the commit in flight has ended (its outcome is then known without waiting). */
  boolean commitEnded() {
    return commit != null && commit.isDone();
  }

  /**
   * Waits for the commit in flight to end.
   *
   * @return how long the commit took in nanoseconds; -1 when none was in flight
   * @throws KafkaException what the commit threw: the transaction failed and must be aborted
   *     ({@link #abort()}); fencing and authorization errors are fatal
   */
  long awaitCommit() {
    if (commit == null) {
      return -1;
    }
    Future<Long> ending = commit;
    commit = null;
    try {
      return Futures.getUninterruptibly(ending); // the commit goes on whatever this thread does
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException runtime) {
        throw runtime;
      }
      throw new KafkaException("the commit failed", e.getCause());
    }
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
    if (commit != null) {
      throw new IllegalStateException("a commit is in flight");
    }
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
    try {
      awaitCommit();
    } catch (KafkaException e) {
      // the transaction being aborted failed to commit: that is why it is aborted
    }
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
    committer.shutdown();
    try {
      awaitCommit();
    } catch (KafkaException e) {
      log.warn("transactional producer {}: the last commit failed while closing: {}", transactionalId, e.toString());
    }
    if (producer != null) {
      producer.close(Duration.ofSeconds(5));
    }
  }
}
