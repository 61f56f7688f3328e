package io.lorastream.kafka;

import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

/** The {@code ./lorastream broker} command: a development broker until Ctrl-C. */
public final class StandaloneBroker {
  private StandaloneBroker() {}

  /**
   * Starts an {@link EmbeddedKafkaBroker} on {@code dataDir} and {@code port}, creates the
   * lorastream topics (default prefix) and blocks until the JVM is asked to stop or the calling
   * thread is interrupted; the broker is then closed cleanly.
   */
  public static void runUntilInterrupted(Path dataDir, int port) throws InterruptedException {
    EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dataDir, port);
    CountDownLatch stopped = new CountDownLatch(1);
    Thread hook =
        new Thread(
            () -> {
              broker.close();
              stopped.countDown();
            },
            "lorastream-broker-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      TopicAdmin.ensureTopics(broker.settings(), new Topics());
      System.out.println(
          "Kafka broker ready at " + broker.bootstrapServers() + " (data in " + broker.dataDir()
              + ")");
      System.out.flush();
      stopped.await();
    } finally {
      // Reached on interrupt or failure; on Ctrl-C the hook has already closed the broker.
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException shuttingDown) {
        // The hook is running.
      }
      broker.close();
    }
  }
}
