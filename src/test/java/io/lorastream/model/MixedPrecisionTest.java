package io.lorastream.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import io.lorastream.model.pretrain.BasePretrainer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * F16 mixed precision on the CPU against the F32 pass of the shipped model: logits, the LoRA term,
 * the F32 gradients of the LoRA factors, single and fused training steps, and greedy decoding over
 * the KV cache. libtorch's CPU build runs F16 (slowly: this checks numbers, not speed).
 */
class MixedPrecisionTest {
  private static final Path TINY = Path.of("models", "lorastream-tiny");
  private static BaseModel f32;
  private static BaseModel f16;

  @BeforeAll
  static void load() {
    f32 = BaseModel.load(TINY, null, Precision.F32);
    f16 = BaseModel.load(TINY, null, Precision.F16);
  }

  @AfterAll
  static void close() {
    f32.close();
    f16.close();
  }

  @Test
  void halfWeightsServeTheSameModel() {
    assertThat(f16.precision()).isEqualTo(Precision.F16);
    assertThat(f16.weights().layers().get(0).wq().getDataType()).isEqualTo(DataType.FLOAT16);
    assertThat(f16.weights().tokenEmbedding().getDataType()).isEqualTo(DataType.FLOAT16);
    assertThat(f16.tensors().values()).allMatch(t -> t.getDataType() == DataType.FLOAT16);
    // The identity adapters are made for is that of the files.
    assertThat(f16.weightsSha256()).isEqualTo(f32.weightsSha256());
  }

  /** A merged export starts from the files' F32 weights, not from the F16 ones the pass uses. */
  @Test
  void mergedExportIsTheF32One(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
    try (LoraAdapter adapter = CausalLmTest.randomAdapter(f32, 26)) {
      adapter.mergeInto(f32, tmp.resolve("from-f32"));
      adapter.mergeInto(f16, tmp.resolve("from-f16"));
      byte[] want = java.nio.file.Files.readAllBytes(tmp.resolve("from-f32").resolve(SafeTensors.SINGLE_FILE));
      byte[] got = java.nio.file.Files.readAllBytes(tmp.resolve("from-f16").resolve(SafeTensors.SINGLE_FILE));
      assertThat(got).isEqualTo(want);
    }
  }

  @Test
  void logitsAndTheLoraTermFollowF32() {
    try (LoraAdapter adapter = CausalLmTest.randomAdapter(f32, 21); NDManager m = NDManager.newBaseManager();
        NDScope scope = new NDScope()) {
      NDArray tokens = tokens(m, 2, 12, 5);
      NDArray want = new CausalLm(f32).logits(tokens, adapter);
      NDArray got = new CausalLm(f16).logits(tokens, adapter);
      assertThat(got.getDataType()).isEqualTo(DataType.FLOAT32);
      float scale = want.abs().max().getFloat();
      float error = got.sub(want).abs().max().getFloat();
      System.out.printf("logits: max |f16 - f32| %.5f of max |logit| %.3f%n", error, scale);
      assertThat(error).isLessThan(0.005f * scale);
      // The adapter's own contribution, measured on its own, survives the half base.
      NDArray wantDelta = want.sub(new CausalLm(f32).logits(tokens, null));
      NDArray gotDelta = got.sub(new CausalLm(f16).logits(tokens, null));
      float deltaError = relative(gotDelta, wantDelta);
      System.out.printf("adapter term: relative error %.5f (norm %.3f)%n", deltaError, norm(wantDelta));
      assertThat(deltaError).isLessThan(0.02f);
      assertThat(got.argMax(-1).toLongArray()).isEqualTo(want.argMax(-1).toLongArray());
    }
  }

  @Test
  void loraGradientsAreF32AndFollowF32() {
    try (LoraAdapter a32 = CausalLmTest.randomAdapter(f32, 22); LoraAdapter a16 = CausalLmTest.randomAdapter(f32, 22);
        NDManager m = NDManager.newBaseManager()) {
      List<NDArray> want = gradients(f32, a32, m);
      List<NDArray> got = gradients(f16, a16, m);
      float worst = 0;
      for (int i = 0; i < want.size(); i++) {
        assertThat(got.get(i).getDataType()).isEqualTo(DataType.FLOAT32);
        worst = Math.max(worst, relative(got.get(i), want.get(i)));
      }
      System.out.printf("LoRA gradients: worst relative error %.5f over %d factors%n", worst, want.size());
      assertThat(worst).isLessThan(0.02f);
    }
  }

  /** Five steps of one tenant alone and of two tenants fused: the same losses as in F32, falling. */
  @Test
  void trainingStepsFollowF32() {
    float[][] want = trainingLosses(f32);
    float[][] got = trainingLosses(f16);
    System.out.printf("losses f32 %s%nlosses f16 %s%n", java.util.Arrays.deepToString(want),
        java.util.Arrays.deepToString(got));
    for (int s = 0; s < want.length; s++) {
      for (int t = 0; t < want[s].length; t++) {
        assertThat(got[s][t]).isCloseTo(want[s][t], org.assertj.core.data.Percentage.withPercentage(1));
      }
    }
    assertThat(got[want.length - 1][0]).isLessThan(got[0][0] * 0.9f);
  }

  /**
   * A loss scale so large that the F16 gradients overflow: the step backs off until they are
   * finite and takes the update it takes at the usual scale, alone and fused.
   */
  @Test
  void lossScalingBacksOffAfterAnOverflow() {
    LossScaler scaler = LossScaler.of(f16);
    assertThat(LossScaler.of(f32).scale()).isEqualTo(1f);
    float[][] want = trainingLosses(f16, 2);
    scaler.setScale(0x1p30f);
    float[][] got = trainingLosses(f16, 2);
    System.out.printf("after an overflow: scale %s, losses %s against %s%n", scaler.scale(),
        java.util.Arrays.deepToString(got), java.util.Arrays.deepToString(want));
    assertThat(scaler.scale()).isLessThan(0x1p30f).isGreaterThanOrEqualTo(1f);
    for (int s = 0; s < want.length; s++) {
      for (int t = 0; t < want[s].length; t++) {
        assertThat(got[s][t]).isCloseTo(want[s][t], org.assertj.core.data.Percentage.withPercentage(0.5));
      }
    }
    scaler.setScale(LossScaler.INITIAL_SCALE);
  }

  /** The scaled backward pass hands over the gradients themselves, not scale × them. */
  @Test
  void scaledGradientsAreDividedByTheScale() {
    LossScaler scaler = LossScaler.of(f16);
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray p = m.create(new float[] {0.5f, -1f, 2f, 0.25f}, new ai.djl.ndarray.types.Shape(2, 2));
      NDArray x = m.create(new float[] {1f, 2f, 3f, -1f}, new ai.djl.ndarray.types.Shape(2, 2))
          .toType(DataType.FLOAT16, false);
      p.setRequiresGradient(true);
      boolean gradMode = JniUtils.isGradMode();
      try (NDScope scope = new NDScope()) {
        JniUtils.setGradMode(true);
        // loss = sum(x p^T) in F16, widened: d loss / d p[i][j] = sum over rows of x[.][j] = {4, 1, 4, 1}
        NDArray loss = Precision.toF32(CausalLm.linear(x, Precision.to(p, DataType.FLOAT16))).sum();
        scaler.backward(loss, List.of(p), () -> JniUtils.zeroGrad((PtNDArray) p));
        JniUtils.setGradMode(false);
        assertThat(scaler.scale()).isGreaterThan(1f);
        assertThat(p.getGradient().toFloatArray()).containsExactly(4f, 1f, 4f, 1f);
      } finally {
        JniUtils.setGradMode(gradMode);
        p.setRequiresGradient(false);
      }
    }
  }

  private static float[][] trainingLosses(BaseModel base) {
    return trainingLosses(base, 5);
  }

  /** Per step: the alone tenant's loss, then the two fused tenants'. */
  private static float[][] trainingLosses(BaseModel base, int steps) {
    List<TrainingPair> first = List.of(new TrainingPair("Question: When can I reach support?\nAnswer:",
        " Support is open from 9 to 5.", 1f));
    List<TrainingPair> second = List.of(new TrainingPair("Question: How much is shipping?\nAnswer:",
        " Shipping is $7.", 1f), new TrainingPair("Customer: Hi!\nAgent:", " Hello, how can I help?", 0.5f));
    LoraConfig config = new LoraConfig(8, 16f, List.of("all-linear"), 0f, false, null);
    float[][] losses = new float[steps][];
    try (LoraAdapter alone = LoraAdapter.initialise(base, config, 1);
        LoraAdapter a = LoraAdapter.initialise(base, config, 2);
        LoraAdapter b = LoraAdapter.initialise(base, config, 3);
        LoraTrainer aloneTrainer = new LoraTrainer(base, alone, TrainingSettings.defaults());
        LoraTrainer aTrainer = new LoraTrainer(base, a, TrainingSettings.defaults());
        LoraTrainer bTrainer = new LoraTrainer(base, b, TrainingSettings.defaults())) {
      for (int s = 0; s < losses.length; s++) {
        float[] fused = FusedLoraTrainer.step(List.of(new FusedLoraTrainer.TenantBatch(aTrainer, first),
            new FusedLoraTrainer.TenantBatch(bTrainer, second)));
        losses[s] = new float[] {aloneTrainer.step(second), fused[0], fused[1]};
      }
    }
    return losses;
  }

  @Test
  void greedyDecodingOverTheCacheMatchesF32() {
    try (LoraAdapter adapter = CausalLmTest.randomAdapter(f32, 23)) {
      int[] prompt = f32.tokenizer().encode("Question: How long do I have to return an item?\nAnswer:");
      Completion want = new Generator(f32).generate(prompt, adapter, 12);
      Completion got = new Generator(f16).generate(prompt, adapter, 12);
      System.out.printf("f32: %s%nf16: %s%n", want.text(), got.text());
      assertThat(got.tokenIds()).isEqualTo(want.tokenIds());
    }
  }

  /** Rows of two tenants and the base model decoded in one batch, each row's LoRA term in F32. */
  @Test
  void batchedRowsOfSeveralTenantsMatchF32() {
    try (LoraAdapter first = CausalLmTest.randomAdapter(f32, 24); LoraAdapter second = CausalLmTest.randomAdapter(f32, 25)) {
      List<String> prompts = List.of("Question: When can I reach support?\nAnswer:", "Customer: Hi!\nAgent:",
          "Question: How much is shipping?\nAnswer:");
      List<LoraAdapter> adapters = java.util.Arrays.asList(first, null, second);
      List<int[]> want = batch(f32, prompts, adapters);
      List<int[]> got = batch(f16, prompts, adapters);
      for (int i = 0; i < want.size(); i++) {
        assertThat(got.get(i)).as("row %d", i).isEqualTo(want.get(i));
      }
    }
  }

  private static List<int[]> batch(BaseModel base, List<String> prompts, List<LoraAdapter> adapters) {
    List<GenerationRequest> requests = new ArrayList<>();
    for (int i = 0; i < prompts.size(); i++) {
      requests.add(new GenerationRequest(base.tokenizer().encode(prompts.get(i)), adapters.get(i),
          SamplingParams.greedy(10)));
    }
    return new Generator(base).generateBatch(requests).stream().map(Completion::tokenIds).toList();
  }

  @Test
  void parsesPrecisionNamesAndPretrainsOnlyInF32() {
    assertThat(Precision.parse(" fp16")).isEqualTo(Precision.F16);
    assertThat(Precision.parse("float32")).isEqualTo(Precision.F32);
    assertThatThrownBy(() -> Precision.parse("int8")).hasMessageContaining("expected f32 or f16");
    assertThatThrownBy(() -> Precision.parse("BF16")).hasMessageContaining("use f16");
    assertThatThrownBy(() -> new BasePretrainer(f16, new BasePretrainer.Settings(2, 1, 8, 1e-3f, 1e-4f, 0, 0f, 1f, 1)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("F32");
  }

  /** d(sum of logits × fixed weights)/d(each LoRA factor), F32 copies. */
  private static List<NDArray> gradients(BaseModel base, LoraAdapter adapter, NDManager m) {
    List<NDArray> params = new ArrayList<>();
    for (int l = 0; l < base.config().numHiddenLayers(); l++) {
      for (LoraModule module : adapter.targets()) {
        params.add(adapter.a(l, module));
        params.add(adapter.b(l, module));
      }
    }
    params.forEach(p -> p.setRequiresGradient(true));
    boolean gradMode = JniUtils.isGradMode();
    List<NDArray> out = new ArrayList<>();
    try (NDScope scope = new NDScope()) {
      JniUtils.setGradMode(true);
      NDArray tokens = tokens(m, 2, 10, 7);
      NDArray logits = new CausalLm(base).logits(tokens, adapter); // (2, 10, V)
      NDArray weights = m.create(fixedWeights(Math.toIntExact(logits.size())), logits.getShape());
      NDArray loss = logits.mul(weights).sum();
      JniUtils.backward((PtNDArray) loss, (PtNDArray) loss.onesLike(), false, false);
      JniUtils.setGradMode(false);
      for (NDArray p : params) {
        NDArray g = p.getGradient().duplicate();
        NDScope.unregister(g);
        g.attach(m);
        out.add(g);
      }
    } finally {
      JniUtils.setGradMode(gradMode);
      params.forEach(p -> p.setRequiresGradient(false));
    }
    return out;
  }

  /** (batch, time) token ids drawn with {@code seed}. */
  private static NDArray tokens(NDManager m, int batch, int time, long seed) {
    java.util.SplittableRandom random = new java.util.SplittableRandom(seed);
    long[] ids = new long[batch * time];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = random.nextInt(f32.config().vocabSize());
    }
    return m.create(ids).reshape(batch, time);
  }

  private static float[] fixedWeights(int n) {
    java.util.SplittableRandom random = new java.util.SplittableRandom(99);
    float[] w = new float[n];
    for (int i = 0; i < n; i++) {
      w[i] = (float) (random.nextDouble() - 0.5);
    }
    return w;
  }

  private static float relative(NDArray got, NDArray want) {
    return norm(got.sub(want)) / norm(want);
  }

  private static float norm(NDArray x) {
    return (float) Math.sqrt(x.square().sum().getFloat());
  }
}
