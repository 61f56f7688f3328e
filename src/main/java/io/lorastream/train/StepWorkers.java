package io.lorastream.train;

import io.lorastream.model.FusedLoraTrainer;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * The threads that run a cycle's fused steps, each followed by work on the same group's tenants
 * (the quality gate's evaluation of its publish candidates). The trainer thread submits every
 * group of the cycle, then takes the results in order: while it publishes and checkpoints one
 * group, the workers already train the next ones. The groups of one cycle have distinct tenants, so steps
 * that run at once never touch the same adapter, and each step computes exactly what it would on
 * the trainer thread.
 */
final class StepWorkers implements AutoCloseable {
  private final ExecutorService executor;
  private final ContinualTrainer.StepFunction function;

  /** What one step gave: each tenant's loss, or the refusal of a non-finite loss; and its duration. */
  record Result(float[] losses, IllegalStateException refused, long nanos) {}

  StepWorkers(int threads, String name, ContinualTrainer.StepFunction function) {
    AtomicInteger count = new AtomicInteger();
    this.executor = Executors.newFixedThreadPool(threads, task -> {
      Thread thread = new Thread(task, name + "-step-" + count.incrementAndGet());
      thread.setDaemon(true);
      return thread;
    });
    this.function = function;
  }

  /** Starts the step of {@code group} on a worker. */
  Future<Result> submit(List<FusedLoraTrainer.TenantBatch> group) {
    return submit(group, losses -> {});
  }

  /**
   * Starts the step of {@code group} on a worker, which then, when the step gave losses, hands
   * them to {@code afterStep} (on the same worker, outside the step's measured time): work on the
   * group's own tenants that need not wait for the trainer thread, such as the quality gate.
   */
  Future<Result> submit(List<FusedLoraTrainer.TenantBatch> group, Consumer<float[]> afterStep) {
    return executor.submit(() -> {
      Result result = run(function, group);
      if (result.losses() != null) {
        afterStep.accept(result.losses());
      }
      return result;
    });
  }

  /** Runs the step on the calling thread. */
  static Result run(ContinualTrainer.StepFunction function, List<FusedLoraTrainer.TenantBatch> group) {
    long started = System.nanoTime();
    try {
      return new Result(function.step(group), null, System.nanoTime() - started);
    } catch (IllegalStateException e) {
      // LoraTrainer and FusedLoraTrainer refuse a step with a non-finite loss before updating any adapter.
      return new Result(null, e, System.nanoTime() - started);
    }
  }

  /** The step's result; whatever else it threw is thrown here, on the caller's thread. */
  static Result await(Future<Result> step) {
    try {
      return Futures.getUninterruptibly(step);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof RuntimeException runtime) {
        throw runtime;
      }
      if (cause instanceof Error error) {
        throw error;
      }
      throw new IllegalStateException("a training step failed", cause);
    }
  }

  /** Waits until the step has ended, whatever its outcome. */
  static void awaitQuietly(Future<Result> step) {
    try {
      Futures.getUninterruptibly(step);
    } catch (ExecutionException e) {
      // Its outcome was reported by await, or does not matter any more.
    }
  }

  @Override
  public void close() {
    executor.shutdown();
    try {
      if (!executor.awaitTermination(60, TimeUnit.SECONDS)) {
        executor.shutdownNow();
      }
    } catch (InterruptedException e) {
      executor.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }
}
