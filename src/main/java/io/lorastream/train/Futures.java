package io.lorastream.train;

import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;

/** Waiting for work whose outcome is needed whatever happens to the waiting thread. */
final class Futures {
  private Futures() {}

  /**
   * The future's result. An interrupt does not end the wait (the work goes on regardless and still
   * uses what it was given); the interrupt flag is restored once the result is in.
   */
  static <T> T getUninterruptibly(Future<T> future) throws ExecutionException {
    boolean interrupted = false;
    try {
      while (true) {
        try {
          return future.get();
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
