package io.lorastream.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shipped lorastream-tiny against an independent PyTorch implementation
 * ({@code load-tests/reference/llama_reference.py}, float64): logits of the base, of a PEFT
 * adapter applied unmerged and of the merged weights, and the gradients of LoraTrainer's masked,
 * weighted loss with respect to every lora_A and lora_B.
 */
class ReferenceFixtureTest {
  static final Path MODEL = Path.of("models", "lorastream-tiny");
  static final Path FIXTURE = Path.of("src", "test", "resources", "reference");
  static final int FIRST_KEPT_POSITION = 16;
  static final double LOGIT_TOLERANCE = 1e-4;
  static final double GRADIENT_TOLERANCE = 1e-4; // relative to the largest reference entry

  @TempDir static Path tmp;
  static BaseModel base;
  static LoraAdapter adapter;
  static NDManager manager;
  static Map<String, NDArray> expected;
  static JsonNode batch;

  @BeforeAll
  static void load() throws IOException {
    base = BaseModel.load(MODEL);
    batch = new ObjectMapper().readTree(FIXTURE.resolve("batch.json").toFile());
    assertThat(base.weightsSha256())
        .as("the fixture was made for another model; regenerate it with load-tests/reference/llama_reference.py")
        .isEqualTo(batch.path("base_model_sha256").asText());
    manager = NDManager.newBaseManager();
    expected = SafeTensors.read(FIXTURE.resolve("expected.safetensors"), manager);
    LoraConfig config =
        LoraConfig.fromPeftAdapterConfigJson(Files.readString(FIXTURE.resolve("adapter_config.json")));
    adapter =
        LoraAdapter.fromPeftSafetensors(
            Files.readAllBytes(FIXTURE.resolve("adapter_model.safetensors")), config, base);
  }

  @AfterAll
  static void close() {
    adapter.close();
    manager.close();
    base.close();
  }

  @Test
  void tokenizerEncodesLikeTheReferenceBpe() {
    for (JsonNode pair : batch.path("pairs")) {
      assertThat(base.tokenizer().encode(pair.path("prompt").asText())).containsExactly(ids(pair.path("prompt_ids")));
      assertThat(base.tokenizer().encode(pair.path("completion").asText()))
          .containsExactly(ids(pair.path("completion_ids")));
    }
  }

  @Test
  void baseLogitsMatchReference() {
    double error = maxAbsError(logits(base, null), expected.get("logits_base"));
    System.err.printf("base: max abs logit error %.2e%n", error);
    assertThat(error).isLessThanOrEqualTo(LOGIT_TOLERANCE);
  }

  @Test
  void unmergedAdapterLogitsMatchReference() {
    float[] got = logits(base, adapter);
    double error = maxAbsError(got, expected.get("logits_adapter"));
    System.err.printf("adapter (unmerged): max abs logit error %.2e%n", error);
    assertThat(error).isLessThanOrEqualTo(LOGIT_TOLERANCE);
    assertThat(maxAbsError(got, expected.get("logits_base")))
        .as("the adapter changes the logits visibly")
        .isGreaterThan(0.1);
  }

  @Test
  void mergedWeightsLogitsMatchReference() {
    Path merged = tmp.resolve("merged");
    adapter.mergeInto(base, merged);
    try (BaseModel mergedModel = BaseModel.load(merged)) {
      double error = maxAbsError(logits(mergedModel, null), expected.get("logits_merged"));
      System.err.printf("merged: max abs logit error %.2e%n", error);
      assertThat(error).isLessThanOrEqualTo(LOGIT_TOLERANCE);
    }
  }

  @Test
  void lossAndLoraGradientsMatchReference() {
    List<TrainingPair> pairs = new ArrayList<>();
    for (JsonNode pair : batch.path("pairs")) {
      pairs.add(new TrainingPair(
          pair.path("prompt").asText(), pair.path("completion").asText(), (float) pair.path("weight").asDouble()));
    }
    try (LoraAdapter trained = adapter.copy();
        LoraTrainer trainer = new LoraTrainer(base, trained, TrainingSettings.defaults())) {
      assertThat((double) trainer.loss(pairs))
          .isCloseTo(expected.get("loss").getFloat(0), org.assertj.core.data.Offset.offset(1e-4));
      Map<String, float[]> gradients = trainer.gradients(pairs);
      assertThat(gradients).hasSize(2 * 7 * base.config().numHiddenLayers());
      double worst = 0;
      for (Map.Entry<String, float[]> e : gradients.entrySet()) {
        float[] want = expected.get("grad." + e.getKey()).toFloatArray();
        double scale = 0;
        for (float v : want) {
          scale = Math.max(scale, Math.abs(v));
        }
        assertThat(scale).as("reference gradient of %s is not zero", e.getKey()).isGreaterThan(0);
        double relative = maxAbsError(e.getValue(), want) / scale;
        assertThat(relative).as("relative gradient error of %s", e.getKey()).isLessThanOrEqualTo(GRADIENT_TOLERANCE);
        worst = Math.max(worst, relative);
      }
      System.err.printf("worst relative LoRA gradient error %.2e%n", worst);
    }
  }

  /** Logits at positions 16..31 of the fixture's (2, 32) token batch, flattened. */
  static float[] logits(BaseModel model, LoraAdapter adapterOrNull) {
    try (NDManager scratch = NDManager.newBaseManager()) {
      NDArray ids = expected.get("input_ids").toType(DataType.INT64, true);
      ids.attach(scratch);
      NDArray logits = new CausalLm(model).logits(ids, adapterOrNull);
      return logits.get(":, " + FIRST_KEPT_POSITION + ":").toFloatArray();
    }
  }

  static double maxAbsError(float[] got, NDArray want) {
    return maxAbsError(got, want.toFloatArray());
  }

  static double maxAbsError(float[] got, float[] want) {
    assertThat(got).hasSameSizeAs(want);
    double worst = 0;
    for (int i = 0; i < got.length; i++) {
      worst = Math.max(worst, Math.abs(got[i] - want[i]));
    }
    return worst;
  }

  static int[] ids(JsonNode array) {
    int[] out = new int[array.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = array.get(i).asInt();
    }
    return out;
  }
}
