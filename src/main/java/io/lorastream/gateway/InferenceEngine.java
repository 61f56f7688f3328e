package io.lorastream.gateway;

import io.lorastream.metrics.Metrics;
import io.lorastream.model.BaseModel;
import io.lorastream.model.CausalLm;
import io.lorastream.model.Completion;
import io.lorastream.model.DecodeBatch;
import io.lorastream.model.GenerationRequest;
import io.lorastream.model.Generator;
import io.lorastream.model.LoraAdapter;
import io.lorastream.model.SamplingParams;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A continuous batcher: one thread decodes every running request together, one forward pass per
 * step, each row with its own tenant's adapter (or none), sampling settings and budget. Waiting
 * requests join between steps, so a new request never waits for a long one to finish. Model work
 * never runs on an event loop; a full waiting queue refuses new work at once ({@link Overloaded}).
 *
 * <p>The thread owns the {@link AdapterCache}: an adapter is acquired when its row joins and
 * released when the row ends, and the store's events are applied between steps, so no adapter is
 * closed while a row uses it.
 */
public final class InferenceEngine implements AdapterEvents, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(InferenceEngine.class);

  /** Receives a running request's tokens as they are generated, on the engine thread: keep it short. */
  public interface TokenListener {
    void onTokens(int[] tokens);
  }

  /** A submitted request; {@link #cancel} drops it from the batch at the next step. */
  public static final class Job {
    final ServedAdapter served;
    final int[] promptIds;
    final SamplingParams params;
    final TokenListener listener;
    final CompletableFuture<Completion> result = new CompletableFuture<>();
    volatile boolean cancelled;
    boolean holdsAdapter; // engine thread only

    Job(ServedAdapter served, int[] promptIds, SamplingParams params, TokenListener listener) {
      this.served = served;
      this.promptIds = promptIds;
      this.params = params;
      this.listener = listener;
    }

    public CompletableFuture<Completion> result() {
      return result;
    }

    public void cancel() {
      cancelled = true;
    }
  }

  private final Generator generator;
  private final CausalLm lm;
  private final AdapterCache cache;
  private final Metrics metrics;
  private final int maxBatchRows;
  private final BlockingQueue<Job> waiting;
  private final Queue<Runnable> adapterEvents = new ConcurrentLinkedQueue<>();
  private final Thread thread;
  private volatile boolean running = true;

  public InferenceEngine(BaseModel base, int queueCapacity, int maxBatchRows, long adapterBudgetBytes,
      Metrics metrics) {
    this.lm = new CausalLm(base);
    this.generator = new Generator(lm);
    this.cache = new AdapterCache(base, adapterBudgetBytes, metrics);
    this.metrics = metrics;
    this.maxBatchRows = maxBatchRows;
    this.waiting = new ArrayBlockingQueue<>(queueCapacity);
    this.thread = new Thread(this::run, "lorastream-inference");
    this.thread.setDaemon(true);
    this.thread.start();
  }

  /**
   * Generates after text (a bos token is put first) with this adapter version, or the base model
   * when null. The text is tokenised here, on the caller's thread (tens of microseconds), so that
   * the engine thread, which every running request waits on, only runs the model.
   */
  public Job submit(String prompt, ServedAdapter adapter, SamplingParams params, TokenListener listener) {
    return enqueue(new Job(adapter, generator.encodePrompt(prompt), params, listener));
  }

  /** Generates after these token ids exactly. */
  public Job submit(int[] promptIds, ServedAdapter adapter, SamplingParams params, TokenListener listener) {
    return enqueue(new Job(adapter, promptIds, params, listener));
  }

  private Job enqueue(Job job) {
    if (!running || !waiting.offer(job)) {
      job.result.completeExceptionally(new Overloaded(waiting.size()));
    } else {
      metrics.gatewayQueueDepth.set(waiting.size());
    }
    return job;
  }

  private void run() {
    Map<Long, Job> active = new HashMap<>();
    DecodeBatch batch = new DecodeBatch(lm);
    try {
      while (running) {
        applyAdapterEvents();
        admit(batch, active);
        if (batch.isEmpty()) {
          continue;
        }
        dropCancelled(batch, active);
        List<DecodeBatch.Update> updates;
        try {
          long start = System.nanoTime();
          updates = batch.step();
          metrics.gatewayEngineSeconds.labelValues("decode").observe((System.nanoTime() - start) / 1e9);
        } catch (RuntimeException e) {
          log.error("a decode step failed; failing its {} requests", active.size(), e);
          active.values().forEach(job -> finish(job, null, e));
          active.clear();
          batch.close();
          batch = new DecodeBatch(lm);
          continue;
        }
        metrics.gatewayBatchRows.observe(updates.size());
        for (DecodeBatch.Update update : updates) {
          Job job = active.get(update.id());
          if (job == null) {
            continue;
          }
          if (update.tokens().length > 0 && job.listener != null) {
            job.listener.onTokens(update.tokens());
          }
          if (update.finished()) {
            active.remove(update.id());
            finish(job, update.completion(), null);
          }
        }
      }
    } finally {
      Overloaded stopped = new Overloaded(0);
      active.values().forEach(job -> finish(job, null, stopped));
      waiting.forEach(job -> job.result.completeExceptionally(stopped));
      batch.close();
      applyAdapterEvents();
      cache.close();
    }
  }

  /**
   * Lets waiting requests join, up to the row limit; blocks briefly when nothing runs. The
   * requests taken in one call are admitted together, so their prompts share forward passes.
   */
  private void admit(DecodeBatch batch, Map<Long, Job> active) {
    if (batch.size() >= maxBatchRows) {
      return; // full: waiting requests stay queued until a row ends
    }
    List<Job> joining = new ArrayList<>();
    try {
      Job job = batch.isEmpty() ? waiting.poll(50, TimeUnit.MILLISECONDS) : waiting.poll();
      while (job != null) {
        if (!job.cancelled) {
          joining.add(job);
        }
        if (batch.size() + joining.size() >= maxBatchRows) {
          break;
        }
        job = waiting.poll();
      }
      metrics.gatewayQueueDepth.set(waiting.size());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      running = false;
    }
    if (!joining.isEmpty()) {
      long start = System.nanoTime();
      join(batch, active, joining);
      metrics.gatewayEngineSeconds.labelValues("prefill").observe((System.nanoTime() - start) / 1e9);
    }
  }

  /** Admits jobs together; when that fails, one by one, so each invalid job gets its own error. */
  private void join(DecodeBatch batch, Map<Long, Job> active, List<Job> jobs) {
    List<Job> ready = new ArrayList<>(jobs.size());
    List<GenerationRequest> requests = new ArrayList<>(jobs.size());
    for (Job job : jobs) {
      try {
        requests.add(request(job));
        ready.add(job);
      } catch (IllegalArgumentException e) {
        finish(job, null, new InvalidRequest(e.getMessage()));
      } catch (RuntimeException e) {
        finish(job, null, e);
      }
    }
    if (ready.isEmpty()) {
      return;
    }
    try {
      List<Long> ids = batch.addAll(requests);
      for (int i = 0; i < ids.size(); i++) {
        active.put(ids.get(i), ready.get(i));
      }
      return;
    } catch (RuntimeException e) {
      if (ready.size() == 1) {
        finish(ready.get(0), null, e instanceof IllegalArgumentException ? new InvalidRequest(e.getMessage()) : e);
        return;
      }
    }
    for (int i = 0; i < ready.size(); i++) {
      Job job = ready.get(i);
      try {
        active.put(batch.add(requests.get(i)), job);
      } catch (IllegalArgumentException e) {
        finish(job, null, new InvalidRequest(e.getMessage()));
      } catch (RuntimeException e) {
        finish(job, null, e);
      }
    }
  }

  /** The job's generation request; takes a reference on its adapter, released by {@link #finish}. */
  private GenerationRequest request(Job job) {
    LoraAdapter adapter = null;
    if (job.served != null) {
      adapter = cache.acquire(job.served);
      job.holdsAdapter = true;
    }
    return new GenerationRequest(job.promptIds, adapter, job.params);
  }

  private void dropCancelled(DecodeBatch batch, Map<Long, Job> active) {
    List<Long> gone = new ArrayList<>();
    active.forEach((id, job) -> {
      if (job.cancelled) {
        gone.add(id);
      }
    });
    for (Long id : gone) {
      batch.remove(id);
      finish(active.remove(id), null, new java.util.concurrent.CancellationException("client went away"));
    }
  }

  /** Completes a job and releases the adapter it holds. */
  private void finish(Job job, Completion completion, Throwable error) {
    if (job.holdsAdapter) {
      job.holdsAdapter = false;
      cache.release(job.served);
    }
    if (error != null) {
      job.result.completeExceptionally(error);
    } else {
      job.result.complete(completion);
    }
  }

  @Override
  public void verified(ServedAdapter served, LoraAdapter adapter) {
    adapterEvents.add(() -> cache.preload(served, adapter));
  }

  @Override
  public void dropped(ServedAdapter served) {
    adapterEvents.add(() -> cache.forget(served));
  }

  private void applyAdapterEvents() {
    Runnable event;
    while ((event = adapterEvents.poll()) != null) {
      event.run();
    }
  }

  @Override
  public void close() {
    running = false;
    try {
      thread.join(10_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** The model's waiting queue is full (or the engine is stopping). */
  public static final class Overloaded extends RuntimeException {
    public Overloaded(int depth) {
      super("the model is busy (" + depth + " requests waiting); retry shortly");
    }
  }

  /** The model refused the request's input (e.g. a prompt longer than the model's positions). */
  public static final class InvalidRequest extends RuntimeException {
    public InvalidRequest(String message) {
      super(message);
    }
  }
}
