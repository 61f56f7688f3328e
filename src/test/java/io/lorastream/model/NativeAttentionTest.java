package io.lorastream.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The native decode attention against libtorch's: on its own (grouped-query heads, left padding,
 * head sizes on both of its code paths) and inside decode batches and single generations.
 */
class NativeAttentionTest {
  @TempDir static Path tmp;
  static BaseModel base;

  @BeforeAll
  static void createModel() {
    TinyModelFactory.create(tmp.resolve("tiny"), 42);
    base = BaseModel.load(tmp.resolve("tiny"));
  }

  @AfterAll
  static void closeModel() {
    base.close();
  }

  /** softmax(q kᵀ + mask) v with libtorch, the mask hiding each row's slots before its first. */
  private static NDArray reference(NDManager m, NDArray q, NDArray k, NDArray v, int[] first) {
    Shape qs = q.getShape();
    long rows = qs.get(0);
    long heads = qs.get(1);
    long headDim = qs.get(3);
    long kvHeads = k.getShape().get(1);
    long slots = k.getShape().get(2);
    float[] mask = new float[(int) (rows * slots)];
    for (int b = 0; b < rows; b++) {
      for (int s = 0; s < first[b]; s++) {
        mask[(int) (b * slots + s)] = -1e9f;
      }
    }
    NDArray scores = q.reshape(rows, kvHeads, heads / kvHeads, headDim).matMul(k.transpose(0, 1, 3, 2))
        .add(m.create(mask, new Shape(rows, 1, 1, slots)));
    return scores.softmax(-1).matMul(v).reshape(rows, 1, heads * headDim);
  }

  @ParameterizedTest
  @CsvSource({"6, 2, 32, 9", "4, 4, 8, 1", "6, 3, 12, 17"})
  void attendsAsLibtorchDoesOverEachRowsOwnSlots(int heads, int kvHeads, int headDim, int slots) {
    assumeTrue(NativeKernels.available());
    int rows = 4;
    int[] first = {0, Math.min(3, slots - 1), slots - 1, 1 % slots};
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray q = m.randomNormal(new Shape(rows, heads, 1, headDim));
      NDArray k = m.randomNormal(new Shape(rows, kvHeads, slots, headDim));
      NDArray v = m.randomNormal(new Shape(rows, kvHeads, slots, headDim));
      float[] got = NativeAttention.decode(q, k, v, first).toFloatArray();
      float[] want = reference(m, q, k, v, first).toFloatArray();
      assertThat(got).hasSameSizeAs(want);
      for (int i = 0; i < want.length; i++) {
        assertThat(got[i]).as("element %d", i).isCloseTo(want[i], Offset.offset(1e-5f));
      }
      // A row that sees only its own last slot gets exactly that slot's values.
      NDArray lastValues = v.get(new NDIndex("2, :, -1, :")); // (KV, hd)
      float[] row2 = NativeAttention.decode(q, k, v, first).get(2).toFloatArray();
      float[] values = lastValues.toFloatArray();
      int group = heads / kvHeads;
      for (int h = 0; h < heads; h++) {
        for (int d = 0; d < headDim; d++) {
          assertThat(row2[h * headDim + d]).isCloseTo(values[(h / group) * headDim + d], Offset.offset(1e-6f));
        }
      }
    }
  }

  @Test
  void refusesAFirstSlotPastTheCache() {
    assumeTrue(NativeKernels.available());
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray q = m.zeros(new Shape(1, 2, 1, 8));
      NDArray kv = m.zeros(new Shape(1, 1, 3, 8));
      assertThatThrownBy(() -> NativeAttention.decode(q, kv, kv, new int[] {3}))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("past the cache");
    }
  }

  /**
   * Rows of several tenants and prompt lengths (so left padding), joining and leaving, and single
   * generations: the same tokens and log-probabilities with and without the kernel.
   */
  @Test
  void decodeBatchesAndGenerationsWithAndWithoutTheKernelAgree() {
    assumeTrue(NativeKernels.available());
    List<LoraAdapter> tenants = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      tenants.add(CausalLmTest.randomAdapter(base, 500 + i));
    }
    try {
      CausalLm withKernel = new CausalLm(base, true);
      CausalLm without = new CausalLm(base, false);
      List<Completion> a = run(withKernel, tenants);
      List<Completion> b = run(without, tenants);
      for (int i = 0; i < b.size(); i++) {
        assertSame(a.get(i), b.get(i), "row " + i);
      }
      int[] prompt = new Generator(without).encodePrompt("a single generation");
      SamplingParams params = SamplingParams.greedy(12).withLogprobs(1);
      assertSame(new Generator(withKernel).generate(prompt, tenants.get(1), params),
          new Generator(without).generate(prompt, tenants.get(1), params), "generation");
    } finally {
      tenants.forEach(LoraAdapter::close);
    }
  }

  private static void assertSame(Completion got, Completion want, String what) {
    assertThat(got.tokenIds()).as(what).containsExactly(want.tokenIds());
    for (int t = 0; t < want.logprobs().size(); t++) {
      assertThat(got.logprobs().get(t).logprob()).as(what + ", token " + t)
          .isCloseTo(want.logprobs().get(t).logprob(), Offset.offset(1e-4f));
    }
  }

  private static List<Completion> run(CausalLm lm, List<LoraAdapter> tenants) {
    Generator generator = new Generator(lm);
    List<Long> order = new ArrayList<>();
    Map<Long, Completion> done = new HashMap<>();
    String[] prompts = {"short", "a somewhat longer prompt than that", "mid length one", "x"};
    try (DecodeBatch batch = new DecodeBatch(lm)) {
      for (int wave = 0; wave < 2; wave++) {
        List<GenerationRequest> requests = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
          LoraAdapter adapter = i == 4 ? null : tenants.get((i + wave) % tenants.size());
          requests.add(new GenerationRequest(generator.encodePrompt(prompts[(i + wave) % prompts.length]), adapter,
              SamplingParams.greedy(5 + 3 * i).withLogprobs(1)));
        }
        order.addAll(batch.addAll(requests));
        DecodeBatchTest.runSteps(batch, 6, done, new HashMap<>());
      }
      DecodeBatchTest.runSteps(batch, Integer.MAX_VALUE, done, new HashMap<>()); // until every row finished
    }
    return order.stream().map(done::get).toList();
  }
}
