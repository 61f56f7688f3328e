package io.lorastream.gateway;

import io.lorastream.model.Completion;
import io.lorastream.model.Generator;
import io.lorastream.model.LoraAdapter;
import java.util.Queue;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs model work on one dedicated thread behind a bounded queue, never on an event loop. A full
 * queue refuses new work at once ({@link Overloaded}) so callers can answer 503 instead of waiting.
 * Adapters replaced in the store are closed here, between requests, so none is closed mid-use.
 */
public final class InferenceEngine implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(InferenceEngine.class);

  private final Generator generator;
  private final ThreadPoolExecutor executor;
  private final Queue<AutoCloseable> retired = new ConcurrentLinkedQueue<>();

  public InferenceEngine(Generator generator, int queueCapacity) {
    this.generator = generator;
    this.executor = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS, new ArrayBlockingQueue<>(queueCapacity),
        r -> {
          Thread t = new Thread(r, "lorastream-inference");
          t.setDaemon(true);
          return t;
        });
  }

  /** Generates greedily after text (a bos is put first); fails with {@link Overloaded} when the queue is full. */
  public CompletableFuture<Completion> complete(String prompt, LoraAdapter adapterOrNull, int maxTokens) {
    return submit(() -> generator.generate(prompt, adapterOrNull, maxTokens));
  }

  /** Generates greedily after these token ids exactly; fails with {@link Overloaded} when the queue is full. */
  public CompletableFuture<Completion> complete(int[] promptIds, LoraAdapter adapterOrNull, int maxTokens) {
    return submit(() -> generator.generate(promptIds, adapterOrNull, maxTokens));
  }

  private CompletableFuture<Completion> submit(java.util.function.Supplier<Completion> work) {
    CompletableFuture<Completion> result = new CompletableFuture<>();
    try {
      executor.execute(() -> {
        closeRetired();
        try {
          result.complete(work.get());
        } catch (RuntimeException | Error e) {
          result.completeExceptionally(e);
        }
      });
    } catch (RejectedExecutionException e) {
      result.completeExceptionally(new Overloaded(executor.getQueue().size()));
    }
    return result;
  }

  /** Closes this adapter after the work already queued has run. */
  public void retire(AutoCloseable adapter) {
    retired.add(adapter);
  }

  public int queueDepth() {
    return executor.getQueue().size();
  }

  private void closeRetired() {
    AutoCloseable next;
    while ((next = retired.poll()) != null) {
      try {
        next.close();
      } catch (Exception e) {
        log.warn("closing a retired adapter failed: {}", e.toString());
      }
    }
  }

  @Override
  public void close() {
    executor.shutdown();
    try {
      executor.awaitTermination(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    closeRetired();
  }

  /** The model's queue is full. */
  public static final class Overloaded extends RuntimeException {
    public Overloaded(int depth) {
      super("the model is busy (" + depth + " requests waiting); retry shortly");
    }
  }
}
