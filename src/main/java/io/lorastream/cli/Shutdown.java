package io.lorastream.cli;

import java.util.concurrent.CountDownLatch;

/** Blocks a long-running command until Ctrl-C (SIGINT/SIGTERM), then lets it close in order. */
final class Shutdown {
  private Shutdown() {}

  static void awaitSignal(AutoCloseable running) throws Exception {
    CountDownLatch stopped = new CountDownLatch(1);
    CountDownLatch closed = new CountDownLatch(1);
    Thread hook = new Thread(() -> {
      stopped.countDown();
      try {
        closed.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "lorastream-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    stopped.await();
    try {
      running.close();
    } finally {
      closed.countDown();
    }
  }
}
