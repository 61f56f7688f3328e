package io.lorastream.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GeneratorSamplingTest {
  @TempDir static Path tmp;
  static BaseModel base;
  static CausalLm lm;
  static Generator generator;
  static LoraAdapter adapter;

  @BeforeAll
  static void createModel() {
    TinyModelFactory.create(tmp.resolve("tiny"), 42);
    base = BaseModel.load(tmp.resolve("tiny"));
    lm = new CausalLm(base);
    generator = new Generator(lm);
    adapter = CausalLmTest.randomAdapter(base, 31);
  }

  @AfterAll
  static void closeModel() {
    adapter.close();
    base.close();
  }

  static SamplingParams sampled(int maxTokens, float temperature, float topP, Long seed) {
    return new SamplingParams(maxTokens, temperature, topP, seed, List.of(), null);
  }

  @Test
  void sameSeedGivesSameTokensAndOtherSeedsDiffer() {
    int[] prompt = generator.encodePrompt("Sampling is seeded");
    Completion first = generator.generate(prompt, adapter, sampled(24, 1f, 0.95f, 7L));
    Completion again = generator.generate(prompt, adapter, sampled(24, 1f, 0.95f, 7L));
    assertThat(first.tokenIds()).hasSizeGreaterThan(4);
    assertThat(again.tokenIds()).containsExactly(first.tokenIds());
    assertThat(again.text()).isEqualTo(first.text());
    int differing = 0;
    for (long seed = 8; seed < 12; seed++) {
      Completion other = generator.generate(prompt, adapter, sampled(24, 1f, 0.95f, seed));
      differing += Arrays.equals(other.tokenIds(), first.tokenIds()) ? 0 : 1;
    }
    assertThat(differing).as("other seeds draw other tokens").isEqualTo(4);
    Completion greedy = generator.generate(prompt, adapter, SamplingParams.greedy(24));
    assertThat(first.tokenIds()).as("sampling at temperature 1 is not greedy").isNotEqualTo(greedy.tokenIds());
  }

  @Test
  void nearZeroTemperatureAndTinyTopPEqualGreedy() {
    for (String text : List.of("The cold", "A nucleus of one token")) {
      int[] prompt = generator.encodePrompt(text);
      Completion greedy = generator.generate(prompt, adapter, 20);
      assertThat(greedy.tokenIds()).hasSizeGreaterThan(4);
      Completion zero = generator.generate(prompt, adapter, sampled(20, 0f, 0.5f, 1L));
      Completion cold = generator.generate(prompt, adapter, sampled(20, 1e-5f, 1f, 2L));
      Completion nucleus = generator.generate(prompt, adapter, sampled(20, 1.5f, 1e-6f, 3L));
      assertThat(zero.tokenIds()).containsExactly(greedy.tokenIds());
      assertThat(cold.tokenIds()).containsExactly(greedy.tokenIds());
      assertThat(nucleus.tokenIds()).containsExactly(greedy.tokenIds());
      assertThat(nucleus.finishReason()).isEqualTo(greedy.finishReason());
    }
  }

  @Test
  void stopSequenceCutsTheTextAndEndsGeneration() {
    int[] prompt = generator.encodePrompt("Stop here");
    Completion full = generator.generate(prompt, null, 40);
    // An ASCII character the model writes after a few others: it decodes to itself alone.
    int at = -1;
    for (int i = 3; i < full.text().length() && at < 0; i++) {
      char ch = full.text().charAt(i);
      if (ch > 32 && ch < 127) {
        at = i;
      }
    }
    assertThat(at).as("greedy text " + full.text() + " has an ASCII character").isPositive();
    String stop = full.text().substring(at, at + 1);

    Completion stopped = generator.generate(prompt, null, SamplingParams.greedy(40).withStop(List.of("\u0000never", stop)));
    assertThat(stopped.finishReason()).isEqualTo(Completion.STOP);
    int[] ids = stopped.tokenIds();
    assertThat(Arrays.copyOf(full.tokenIds(), ids.length)).as("same tokens up to the stop").containsExactly(ids);
    String decoded = base.tokenizer().decode(ids);
    assertThat(stopped.text()).isEqualTo(decoded.substring(0, decoded.indexOf(stop)));
    assertThat(stopped.text()).doesNotContain(stop);
    assertThat(base.tokenizer().decode(Arrays.copyOf(ids, ids.length - 1)))
        .as("generation ends with the token that completes the stop sequence")
        .doesNotContain(stop);
    assertThat(ids.length).isLessThan(full.tokenIds().length);
  }

  @Test
  void logprobsEqualLogSoftmaxOfARecomputedForwardPass() {
    int[] prompt = generator.encodePrompt("Log probabilities");
    Completion c = generator.generate(prompt, adapter, sampled(12, 0.9f, 1f, 5L).withLogprobs(3));
    assertThat(c.logprobs()).hasSize(c.tokenIds().length);
    assertThat(c.tokenIds()).hasSizeGreaterThan(4);
    int vocab = base.config().vocabSize();
    try (NDManager manager = NDManager.newBaseManager()) {
      for (int i = 0; i < c.tokenIds().length; i++) {
        long[] context = new long[prompt.length + i];
        for (int j = 0; j < context.length; j++) {
          context[j] = j < prompt.length ? prompt[j] : c.tokenIds()[j - prompt.length];
        }
        float[] all = lm.logits(manager.create(context, new Shape(1, context.length)), adapter).toFloatArray();
        double[] logits = new double[vocab];
        for (int v = 0; v < vocab; v++) {
          logits[v] = all[(context.length - 1) * vocab + v];
        }
        double sum = 0;
        for (double l : logits) {
          sum += Math.exp(l);
        }
        double[] logSoftmax = new double[vocab];
        for (int v = 0; v < vocab; v++) {
          logSoftmax[v] = logits[v] - Math.log(sum);
        }
        Integer[] order = new Integer[vocab];
        for (int v = 0; v < vocab; v++) {
          order[v] = v;
        }
        Arrays.sort(order, (x, y) -> Double.compare(logSoftmax[y], logSoftmax[x]));

        TokenLogprob lp = c.logprobs().get(i);
        assertThat(lp.tokenId()).isEqualTo(c.tokenIds()[i]);
        assertThat((double) lp.logprob()).isCloseTo(logSoftmax[lp.tokenId()], org.assertj.core.data.Offset.offset(1e-4));
        assertThat(lp.token()).isEqualTo(base.tokenizer().decode(new int[] {lp.tokenId()}));
        assertThat(lp.top()).hasSize(3);
        for (int k = 0; k < 3; k++) {
          assertThat(lp.top().get(k).tokenId()).isEqualTo(order[k]);
          assertThat((double) lp.top().get(k).logprob())
              .isCloseTo(logSoftmax[order[k]], org.assertj.core.data.Offset.offset(1e-4));
        }
      }
    }
    Completion greedy = generator.generate(prompt, adapter, SamplingParams.greedy(6).withLogprobs(0));
    assertThat(greedy.logprobs()).allSatisfy(lp -> assertThat(lp.top()).isEmpty());
    assertThat(generator.generate(prompt, adapter, 6).logprobs()).isNull();
  }

  @Test
  void zeroMaxTokensGeneratesNothing() {
    Completion c = generator.generate("anything", adapter, SamplingParams.greedy(0));
    assertThat(c.tokenIds()).isEmpty();
    assertThat(c.text()).isEmpty();
    assertThat(c.finishReason()).isEqualTo(Completion.LENGTH);
  }
}
