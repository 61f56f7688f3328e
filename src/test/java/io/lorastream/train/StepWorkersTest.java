package io.lorastream.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

class StepWorkersTest {
  @Test
  void twoThreadsRunTwoStepsAtOnce() throws Exception {
    // Each step waits until both have started: with one thread at a time neither would finish.
    CountDownLatch bothStarted = new CountDownLatch(2);
    ContinualTrainer.StepFunction meet = group -> {
      bothStarted.countDown();
      try {
        if (!bothStarted.await(30, TimeUnit.SECONDS)) {
          throw new AssertionError("the other step did not start");
        }
      } catch (InterruptedException e) {
        throw new AssertionError(e);
      }
      return new float[] {1f};
    };
    try (StepWorkers workers = new StepWorkers(2, "test", meet)) {
      Future<StepWorkers.Result> first = workers.submit(List.of());
      Future<StepWorkers.Result> second = workers.submit(List.of());
      assertThat(StepWorkers.await(first).losses()).containsExactly(1f);
      assertThat(StepWorkers.await(second).losses()).containsExactly(1f);
    }
  }

  @Test
  void aRefusedStepIsAResultAndAnyOtherFailureIsThrownToTheCaller() {
    try (StepWorkers workers = new StepWorkers(1, "test", group -> {
      throw new IllegalStateException("loss is NaN");
    })) {
      StepWorkers.Result refused = StepWorkers.await(workers.submit(List.of()));
      assertThat(refused.losses()).isNull();
      assertThat(refused.refused()).hasMessage("loss is NaN");
    }
    try (StepWorkers workers = new StepWorkers(1, "test", group -> {
      throw new ArithmeticException("broken");
    })) {
      Future<StepWorkers.Result> step = workers.submit(List.of());
      assertThatThrownBy(() -> StepWorkers.await(step)).isInstanceOf(ArithmeticException.class).hasMessage("broken");
    }
  }

  @Test
  void awaitingQuietlyReturnsOnlyOnceTheStepHasEndedEvenWhenInterrupted() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    AtomicBoolean ended = new AtomicBoolean();
    try (StepWorkers workers = new StepWorkers(1, "test", group -> {
      try {
        release.await();
      } catch (InterruptedException e) {
        throw new AssertionError(e);
      }
      ended.set(true);
      throw new ArithmeticException("after the caller stopped caring");
    })) {
      Future<StepWorkers.Result> step = workers.submit(List.of());
      Thread releaser = new Thread(() -> {
        try {
          Thread.sleep(300);
        } catch (InterruptedException e) {
          return;
        }
        release.countDown();
      });
      releaser.start();
      Thread.currentThread().interrupt();
      StepWorkers.awaitQuietly(step);
      assertThat(ended).isTrue();
      assertThat(Thread.interrupted()).as("the interrupt is kept").isTrue();
      releaser.join();
    }
  }
}
