package io.lorastream.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.SplittableRandom;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

class SamplerTest {

  static float[] randomLogits(long seed, int n) {
    SplittableRandom random = new SplittableRandom(seed);
    float[] logits = new float[n];
    for (int i = 0; i < n; i++) {
      logits[i] = (float) (random.nextGaussian() * 2);
    }
    return logits;
  }

  /** Natural logs of the given probabilities, as logits. */
  static float[] logitsOf(double... probabilities) {
    float[] out = new float[probabilities.length];
    for (int i = 0; i < out.length; i++) {
      out[i] = (float) Math.log(probabilities[i]);
    }
    return out;
  }

  @Test
  void greedyPicksTheFirstLargestLogit() {
    assertThat(Sampler.greedy().next(new float[] {1f, 3f, -2f, 3f})).isEqualTo(1);
  }

  @Test
  void categoricalDrawsMatchSoftmaxFrequencies() {
    double[] p = {0.5, 0.3, 0.15, 0.05};
    Sampler sampler = Sampler.categorical(new SplittableRandom(1));
    int[] counts = new int[p.length];
    int draws = 40_000;
    for (int i = 0; i < draws; i++) {
      counts[sampler.next(logitsOf(p))]++;
    }
    for (int i = 0; i < p.length; i++) {
      assertThat(counts[i] / (double) draws).isCloseTo(p[i], Offset.offset(0.01));
    }
  }

  @Test
  void topPKeepsTheSmallestSetReachingP() {
    double[] p = {0.15, 0.5, 0.05, 0.3};
    // 0.5 + 0.3 = 0.8 >= 0.7: only ids 1 and 3, in proportion 5:3.
    Sampler sampler = Sampler.categorical(new SplittableRandom(2)).withTopP(0.7f);
    int[] counts = new int[p.length];
    int draws = 40_000;
    for (int i = 0; i < draws; i++) {
      counts[sampler.next(logitsOf(p))]++;
    }
    assertThat(counts[0]).isZero();
    assertThat(counts[2]).isZero();
    assertThat(counts[1] / (double) draws).isCloseTo(0.5 / 0.8, Offset.offset(0.01));
  }

  @Test
  void tinyTopPAndTinyTemperatureEqualGreedy() {
    Sampler nucleus = Sampler.categorical(new SplittableRandom(3)).withTopP(1e-6f);
    Sampler cold = Sampler.categorical(new SplittableRandom(4)).withTemperature(1e-6f);
    for (int s = 0; s < 200; s++) {
      float[] logits = randomLogits(s, 300);
      int greedy = Sampler.greedy().next(logits);
      assertThat(nucleus.next(logits)).isEqualTo(greedy);
      assertThat(cold.next(logits)).isEqualTo(greedy);
    }
  }

  @Test
  void temperatureFlattensTheDistribution() {
    double[] p = {0.9, 0.1};
    Sampler hot = Sampler.categorical(new SplittableRandom(5)).withTemperature(100f);
    int second = 0;
    for (int i = 0; i < 20_000; i++) {
      second += hot.next(logitsOf(p));
    }
    // At temperature 100 the two tokens are nearly equally likely.
    assertThat(second / 20_000.0).isCloseTo(0.5, Offset.offset(0.03));
  }

  @Test
  void samplersDoNotModifyTheirInput() {
    float[] logits = randomLogits(9, 50);
    float[] copy = logits.clone();
    Sampler.categorical(new SplittableRandom(1)).withTopP(0.5f).withTemperature(0.3f).next(logits);
    assertThat(logits).containsExactly(copy);
  }

  @Test
  void samplingParamsAreValidated() {
    assertThatThrownBy(() -> new SamplingParams(-1, 0f, 1f, null, null, null))
        .hasMessageContaining("maxTokens");
    assertThatThrownBy(() -> new SamplingParams(5, -0.1f, 1f, null, null, null))
        .hasMessageContaining("temperature");
    assertThatThrownBy(() -> new SamplingParams(5, Float.NaN, 1f, null, null, null))
        .hasMessageContaining("temperature");
    assertThatThrownBy(() -> new SamplingParams(5, 1f, 0f, null, null, null))
        .hasMessageContaining("topP");
    assertThatThrownBy(() -> new SamplingParams(5, 1f, 1.01f, null, null, null))
        .hasMessageContaining("topP");
    assertThatThrownBy(() -> new SamplingParams(5, 1f, 1f, null, List.of(""), null))
        .hasMessageContaining("stop");
    assertThatThrownBy(() -> new SamplingParams(5, 1f, 1f, null, null, 6))
        .hasMessageContaining("logprobs");
    assertThatThrownBy(() -> new SamplingParams(5, 1f, 1f, null, null, -1))
        .hasMessageContaining("logprobs");
    SamplingParams greedy = SamplingParams.greedy(7);
    assertThat(greedy.isGreedy()).isTrue();
    assertThat(greedy.stop()).isEmpty();
    assertThat(greedy.logprobs()).isNull();
  }
}
