package io.lorastream.train;

import java.util.function.BooleanSupplier;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** How the trainer rides out a broker outage: it retries what failed instead of ending. */
final class KafkaRetries {
  private static final Logger log = LoggerFactory.getLogger(KafkaRetries.class);
  private static final long FIRST_BACKOFF_MS = 100;
  private static final long MAX_BACKOFF_MS = 5_000;

  private KafkaRetries() {}

  /**
   * Runs {@code action} until it succeeds, waiting between tries (0.1 s, doubling, at most 5 s)
   * while Kafka is unreachable, so an outage pauses the caller instead of ending it. Fencing and
   * authorization errors are fatal and passed on; so is any error once {@code keepTrying} is false
   * (the trainer is closing), or an interrupt during a wait.
   *
   * @param who the instance, for log lines
   * @param what what the action does, for log lines
   */
  static void untilDone(String who, String what, Runnable action, BooleanSupplier keepTrying) {
    long backoffMs = FIRST_BACKOFF_MS;
    for (int attempt = 1; ; attempt++) {
      try {
        action.run();
        if (attempt > 1) {
          log.info("trainer {}: {} succeeded after {} attempts", who, what, attempt);
        }
        return;
      } catch (ProducerFencedException | OutOfOrderSequenceException | AuthorizationException e) {
        throw e;
      } catch (KafkaException | IllegalStateException e) {
        if (!keepTrying.getAsBoolean()) {
          throw e;
        }
        log.warn("trainer {}: {} failed (attempt {}), retrying in {} ms: {}", who, what, attempt, backoffMs,
            e.toString());
        try {
          Thread.sleep(backoffMs);
        } catch (InterruptedException interrupted) {
          Thread.currentThread().interrupt();
          throw e;
        }
        backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS);
      }
    }
  }
}
