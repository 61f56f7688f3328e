package io.lorastream.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** The share of the learning rate a step takes, by its batch's size and the tenant's examples seen. */
class TrainerSettingsTest {
  private static final TrainerSettings DEFAULTS = TrainerSettings.defaults(); // batches of 8, falls after 2,000

  @Test
  void aSmallerBatchTakesTheSquareRootOfItsShareOfAFullOne() {
    assertThat(DEFAULTS.learningRateScale(8, 0)).isEqualTo(1f);
    assertThat(DEFAULTS.learningRateScale(2, 0)).isEqualTo(0.5f);
    assertThat(DEFAULTS.learningRateScale(1, 100)).isEqualTo((float) Math.sqrt(1 / 8.0));
    assertThat(DEFAULTS.withBatching(1, DEFAULTS.batchMaxWait()).learningRateScale(1, 0)).isEqualTo(1f);
    assertThatThrownBy(() -> DEFAULTS.learningRateScale(0, 0)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void theRateFallsWithTheSquareRootOfATenantsExamplesAfterItsFirstOnes() {
    assertThat(DEFAULTS.learningRateDecayExamples()).isEqualTo(2_000);
    assertThat(DEFAULTS.learningRateScale(8, 2_000)).isEqualTo(1f);
    assertThat(DEFAULTS.learningRateScale(8, 8_000)).isEqualTo(0.5f);
    assertThat(DEFAULTS.learningRateScale(2, 8_000)).as("both shares").isEqualTo(0.25f);
    assertThat(DEFAULTS.withLearningRateDecay(0).learningRateScale(8, 1_000_000)).as("no fall").isEqualTo(1f);
    assertThatThrownBy(() -> DEFAULTS.withLearningRateDecay(-1)).isInstanceOf(IllegalArgumentException.class);
  }
}
