package io.lorastream.gateway;

import io.lorastream.metrics.Metrics;
import io.lorastream.model.BaseModel;
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
import java.util.function.Function;

/**
 * Runs model work on one dedicated thread behind a bounded queue, never on an event loop. A full
 * queue refuses new work at once ({@link Overloaded}) so callers can answer 503 instead of waiting.
 * The thread owns the {@link AdapterCache}: adapter events from the store are queued and applied
 * there between requests, so no adapter is closed while in use.
 */
public final class InferenceEngine implements AdapterEvents, AutoCloseable {
  private final Generator generator;
  private final AdapterCache cache;
  private final ThreadPoolExecutor executor;
  private final Queue<Runnable> adapterEvents = new ConcurrentLinkedQueue<>();

  public InferenceEngine(BaseModel base, int queueCapacity, long adapterBudgetBytes, Metrics metrics) {
    this.generator = new Generator(base);
    this.cache = new AdapterCache(base, adapterBudgetBytes, metrics);
    this.executor = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS, new ArrayBlockingQueue<>(queueCapacity),
        r -> {
          Thread t = new Thread(r, "lorastream-inference");
          t.setDaemon(true);
          return t;
        });
  }

  /** Generates greedily after text (a bos is put first) with this adapter version, or the base when null. */
  public CompletableFuture<Completion> complete(String prompt, ServedAdapter adapter, int maxTokens) {
    return submit(adapter, a -> generator.generate(prompt, a, maxTokens));
  }

  /** Generates greedily after these token ids exactly. */
  public CompletableFuture<Completion> complete(int[] promptIds, ServedAdapter adapter, int maxTokens) {
    return submit(adapter, a -> generator.generate(promptIds, a, maxTokens));
  }

  private CompletableFuture<Completion> submit(ServedAdapter served, Function<LoraAdapter, Completion> work) {
    CompletableFuture<Completion> result = new CompletableFuture<>();
    try {
      executor.execute(() -> {
        applyAdapterEvents();
        try {
          LoraAdapter adapter = served == null ? null : cache.acquire(served);
          try {
            result.complete(work.apply(adapter));
          } finally {
            if (served != null) {
              cache.release(served);
            }
          }
        } catch (RuntimeException | Error e) {
          result.completeExceptionally(e);
        }
      });
    } catch (RejectedExecutionException e) {
      result.completeExceptionally(new Overloaded(executor.getQueue().size()));
    }
    return result;
  }

  @Override
  public void verified(ServedAdapter served, LoraAdapter adapter) {
    adapterEvents.add(() -> cache.preload(served, adapter));
  }

  @Override
  public void dropped(ServedAdapter served) {
    adapterEvents.add(() -> cache.forget(served));
  }

  public int queueDepth() {
    return executor.getQueue().size();
  }

  private void applyAdapterEvents() {
    Runnable event;
    while ((event = adapterEvents.poll()) != null) {
      event.run();
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
    applyAdapterEvents();
    cache.close();
  }

  /** The model's queue is full. */
  public static final class Overloaded extends RuntimeException {
    public Overloaded(int depth) {
      super("the model is busy (" + depth + " requests waiting); retry shortly");
    }
  }
}
