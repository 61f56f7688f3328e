package io.lorastream.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import io.lorastream.testing.TestAdapters;
import java.nio.ByteBuffer;
import java.nio.file.Files;
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
 * The native per-row LoRA kernel against libtorch's products: on its own (odd sizes, both of its
 * code paths) and inside decode batches of many tenants.
 */
class NativeRowLoraTest {
  @TempDir static Path tmp;
  static BaseModel base;
  static CausalLm lm;

  @BeforeAll
  static void createModel() {
    TinyModelFactory.create(tmp.resolve("tiny"), 42);
    base = BaseModel.load(tmp.resolve("tiny"));
    lm = new CausalLm(base);
  }

  @AfterAll
  static void closeModel() {
    base.close();
  }

  @Test
  void theLibraryTheBuildMadeIsLoaded() {
    Path built = Path.of("target", "native", NativeKernels.LIBRARY);
    assumeTrue(Files.exists(built), "no C compiler here: the build made no " + built);
    assertThat(NativeKernels.available()).as("%s is found beside target/classes and loaded", built).isTrue();
  }

  /**
   * y += (x Aᵀ_b)(s·B_b)ᵀ row by row, for rank 8 (the vector path, with an output width that
   * leaves a tail) and rank 5 (the plain path), one and several tokens per row, slots at an
   * offset inside a wider stack.
   */
  @ParameterizedTest
  @CsvSource({"8, 1", "8, 3", "5, 1", "5, 4", "16, 2"})
  void addsEachRowsOwnTermAsLibtorchComputesIt(int rank, int tokens) {
    assumeTrue(NativeKernels.available());
    int rows = 5;
    int in = 13;
    int out = 21;
    long aOffset = 7;
    long bOffset = aOffset + (long) in * rank + 3;
    long width = bOffset + (long) rank * out + 2;
    try (NDManager m = NDManager.newBaseManager()) {
      JniUtils.setGradMode(false);
      NDArray stack = m.randomNormal(new Shape(rows + 2, width)); // rows live in slots 1 .. rows
      NDArray x = m.randomNormal(new Shape(rows, tokens, in));
      NDArray y = m.randomNormal(new Shape(rows, tokens, out));
      NDArray expected = y.duplicate();
      for (int b = 0; b < rows; b++) {
        NDArray slot = stack.get(b + 1);
        NDArray aT = slot.get(new NDIndex().addSliceDim(aOffset, aOffset + (long) in * rank)).reshape(in, rank);
        NDArray bT = slot.get(new NDIndex().addSliceDim(bOffset, bOffset + (long) rank * out)).reshape(rank, out);
        expected.set(new NDIndex(b), expected.get(b).add(x.get(b).matMul(aT).matMul(bT)));
      }
      ByteBuffer slots = NativeKernels.memory(stack.get(new NDIndex().addSliceDim(1, rows + 1)));
      NativeRowLora.addInto(y, x, slots, width, aOffset, bOffset, rank);
      float[] got = y.toFloatArray();
      float[] want = expected.toFloatArray();
      for (int i = 0; i < want.length; i++) {
        assertThat(got[i]).as("element %d", i).isCloseTo(want[i], Offset.offset(1e-4f));
      }
    } finally {
      JniUtils.setGradMode(true);
    }
  }

  @Test
  void refusesSlotsSmallerThanTheRows() {
    assumeTrue(NativeKernels.available());
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray x = m.ones(new Shape(3, 1, 4));
      NDArray y = m.zeros(new Shape(3, 1, 4));
      ByteBuffer twoSlots = NativeKernels.memory(m.zeros(new Shape(2, 40)));
      assertThatThrownBy(() -> NativeRowLora.addInto(y, x, twoSlots, 40, 0, 16, 4))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("3 slots of 40 floats");
    }
  }

  /**
   * Slots the kernel lays out straight from adapters hold the same bits as libtorch's layout: a
   * rank-4 adapter on some layers beside rank-8 ones (so the rank-4 slot is padded with zeros),
   * one adapting only some projections, and a base-model row (all zeros), each written over
   * another adapter's slot.
   */
  @Test
  void layingOutASlotNativelyGivesLibtorchsLayoutBitForBit() {
    assumeTrue(NativeKernels.available());
    LoraAdapter rank4 = CausalLmTest.randomAdapter(base, 400, List.of(1, 3));
    LoraAdapter rank8 = LoraAdapter.initialise(base,
        new LoraConfig(8, 16f, List.of("q_proj", "v_proj", "down_proj"), 0f, false), 401);
    TestAdapters.randomiseB(base, rank8, 402);
    LoraAdapter allLinear = LoraAdapter.initialise(base, new LoraConfig(8, 8f, List.of("all-linear"), 0f, true), 403);
    TestAdapters.randomiseB(base, allLinear, 404);
    List<LoraAdapter> rows = new ArrayList<>(List.of(rank4, rank8, allLinear));
    rows.add(null);
    JniUtils.setGradMode(false);
    try (NDManager m = NDManager.newBaseManager();
        LoraSlots kernel = new LoraSlots(base, m, true);
        LoraSlots libtorch = new LoraSlots(base, m, false)) {
      // Each slot held another adapter first. The rank-4 adapter, laid out for the first time,
      // goes where the rank-8 one was: it must clear that one's columns and the projections it
      // leaves alone. The base-model row replaces factors with zeros.
      List<LoraAdapter> before = new ArrayList<>(List.of(rank8, allLinear, allLinear, rank8));
      kernel.rows(before, 0);
      libtorch.rows(before, 0);
      kernel.rows(rows, 0);
      libtorch.rows(rows, 0);
      for (int slot = 0; slot < rows.size(); slot++) {
        float[] want = libtorch.slotValues(slot);
        assertThat(anyNonZero(want)).as("slot %d holds factors", slot).isEqualTo(rows.get(slot) != null);
        assertThat(kernel.slotValues(slot)).as("slot %d", slot).containsExactly(want);
      }
    } finally {
      JniUtils.setGradMode(true);
      rank4.close();
      rank8.close();
      allLinear.close();
    }
  }

  private static boolean anyNonZero(float[] values) {
    for (float v : values) {
      if (v != 0f) {
        return true;
      }
    }
    return false;
  }

  /**
   * Rows of twelve tenants (ranks 4 and 8, some only on some layers) and of the base model,
   * joining and leaving as in the gateway: the kernel's batch and libtorch's give the same tokens
   * and log-probabilities.
   */
  @Test
  void decodeBatchesWithAndWithoutTheKernelAgree() {
    assumeTrue(NativeKernels.available());
    List<LoraAdapter> tenants = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      tenants.add(CausalLmTest.randomAdapter(base, 200 + i, i < 3 ? List.of(1, 3) : null));
    }
    for (int i = 0; i < 2; i++) {
      LoraAdapter rank8 = LoraAdapter.initialise(base,
          new LoraConfig(8, 16f, List.of("q_proj", "v_proj", "down_proj"), 0f, false), 300 + i);
      TestAdapters.randomiseB(base, rank8, 310 + i);
      tenants.add(rank8);
    }
    Generator generator = new Generator(lm);
    try {
      List<Completion> withKernel = run(generator, tenants, true);
      List<Completion> without = run(generator, tenants, false);
      assertThat(withKernel).hasSameSizeAs(without);
      for (int i = 0; i < without.size(); i++) {
        assertThat(withKernel.get(i).tokenIds()).as("row %d", i).containsExactly(without.get(i).tokenIds());
        for (int t = 0; t < without.get(i).logprobs().size(); t++) {
          assertThat(withKernel.get(i).logprobs().get(t).logprob())
              .isCloseTo(without.get(i).logprobs().get(t).logprob(), Offset.offset(1e-4f));
        }
      }
    } finally {
      tenants.forEach(LoraAdapter::close);
    }
  }

  /** Thirteen rows in three waves, each finished row's completion in the order rows were added. */
  private static List<Completion> run(Generator generator, List<LoraAdapter> tenants, boolean kernel) {
    List<Long> order = new ArrayList<>();
    Map<Long, Completion> done = new HashMap<>();
    try (DecodeBatch batch = new DecodeBatch(lm, kernel)) {
      for (int wave = 0; wave < 3; wave++) {
        List<GenerationRequest> requests = new ArrayList<>();
        for (int i = wave; i < tenants.size() + 1; i += 3) {
          LoraAdapter adapter = i == tenants.size() ? null : tenants.get(i);
          requests.add(new GenerationRequest(generator.encodePrompt("wave " + wave + " row " + i), adapter,
              SamplingParams.greedy(6 + i).withLogprobs(1)));
        }
        order.addAll(batch.addAll(requests));
        DecodeBatchTest.runSteps(batch, 4, done, new HashMap<>());
      }
      DecodeBatchTest.runSteps(batch, Integer.MAX_VALUE, done, new HashMap<>()); // until every row finished
    }
    return order.stream().map(done::get).toList();
  }
}
