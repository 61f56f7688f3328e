package io.lorastream.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LoraAdapterTest {
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

  @Test
  void configDefaultsAndScaleFollowPeft() {
    LoraConfig defaults = LoraConfig.defaults();
    assertThat(defaults.rank()).isEqualTo(8);
    assertThat(defaults.alpha()).isEqualTo(16f);
    assertThat(defaults.targetModules()).containsExactly("q_proj", "v_proj");
    assertThat(defaults.scale()).isEqualTo(2f);
    assertThat(new LoraConfig(16, 16f, List.of("q_proj"), 0f, true).scale()).isEqualTo(4f);
    assertThatThrownBy(() -> new LoraConfig(0, 16f, List.of("q_proj"), 0f, false))
        .hasMessageContaining("rank");
    assertThatThrownBy(() -> new LoraConfig(8, 16f, List.of("qkv_proj"), 0f, false))
        .hasMessageContaining("unknown LoRA target module 'qkv_proj'");
    assertThatThrownBy(() -> new LoraConfig(8, 16f, List.of("q_proj", "q_proj"), 0f, false))
        .hasMessageContaining("repeat");
    assertThatThrownBy(() -> new LoraConfig(8, 16f, List.of("q_proj"), 1f, false))
        .hasMessageContaining("dropout");
  }

  @Test
  void peftAdapterConfigRoundTripsAndRefusesWhatCannotBeApplied() {
    LoraConfig config = new LoraConfig(16, 32f, List.of("q_proj", "k_proj", "down_proj"), 0.05f, true);
    String json = config.toPeftAdapterConfigJson("lorastream-tiny");
    assertThat(json).contains("\"peft_type\" : \"LORA\"", "\"task_type\" : \"CAUSAL_LM\"", "\"bias\" : \"none\"");
    assertThat(LoraConfig.fromPeftAdapterConfigJson(json)).isEqualTo(config);
    assertThatThrownBy(() -> LoraConfig.fromPeftAdapterConfigJson(json.replace("\"none\"", "\"all\"")))
        .isInstanceOf(ModelLoadException.class)
        .hasMessageContaining("bias");
    assertThatThrownBy(
            () -> LoraConfig.fromPeftAdapterConfigJson(
                "{\"peft_type\": \"LORA\", \"r\": 8, \"lora_alpha\": 16, \"target_modules\": \"q_proj|v_proj\"}"))
        .isInstanceOf(ModelLoadException.class)
        .hasMessageContaining("target_modules");
  }

  @Test
  void initialisesLikePeftAndCountsParameters() {
    LoraConfig config = new LoraConfig(8, 16f, List.of("q_proj", "k_proj", "down_proj"), 0f, false);
    try (LoraAdapter adapter = LoraAdapter.initialise(base, config, 1)) {
      LlamaConfig c = base.config();
      assertThat(adapter.a(0, LoraModule.Q_PROJ).getShape().getShape()).containsExactly(8, 128);
      assertThat(adapter.b(0, LoraModule.K_PROJ).getShape().getShape()).containsExactly(64, 8);
      assertThat(adapter.a(3, LoraModule.DOWN_PROJ).getShape().getShape()).containsExactly(8, 344);
      assertThat(adapter.a(0, LoraModule.V_PROJ)).isNull();
      float bound = (float) (1 / Math.sqrt(128));
      float[] a = adapter.a(1, LoraModule.Q_PROJ).toFloatArray();
      float maxAbs = 0;
      for (float v : a) {
        maxAbs = Math.max(maxAbs, Math.abs(v));
      }
      assertThat(maxAbs).isLessThanOrEqualTo(bound).isGreaterThan(0.9f * bound);
      assertThat(adapter.b(1, LoraModule.Q_PROJ).abs().max().getFloat()).isZero();
      long perLayer = 8 * (128 + 128) + 8 * (128 + 64) + 8 * (344 + 128);
      assertThat(adapter.parameterCount()).isEqualTo(perLayer * c.numHiddenLayers());
      try (LoraAdapter same = LoraAdapter.initialise(base, config, 1);
          LoraAdapter other = LoraAdapter.initialise(base, config, 2)) {
        assertThat(same.toPeftSafetensors()).isEqualTo(adapter.toPeftSafetensors());
        assertThat(other.toPeftSafetensors()).isNotEqualTo(adapter.toPeftSafetensors());
      }
    }
  }

  @Test
  void peftBytesRoundTripBitExactlyWithPeftKeys() {
    LoraConfig config =
        new LoraConfig(4, 8f, List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"), 0f, false);
    try (LoraAdapter adapter = CausalLmTest.randomAdapter(base, 21)) {
      byte[] bytes = adapter.toPeftSafetensors();
      try (NDManager manager = NDManager.newBaseManager()) {
        assertThat(SafeTensors.fromBytes(bytes, manager).keySet())
            .hasSize(4 * 7 * 2)
            .contains(
                "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
                "base_model.model.model.layers.3.self_attn.o_proj.lora_B.weight",
                "base_model.model.model.layers.2.mlp.gate_proj.lora_A.weight",
                "base_model.model.model.layers.1.mlp.down_proj.lora_B.weight");
      }
      try (LoraAdapter back = LoraAdapter.fromPeftSafetensors(bytes, config, base);
          LoraAdapter copy = back.copy()) {
        assertThat(back.toPeftSafetensors()).isEqualTo(bytes);
        assertThat(copy.toPeftSafetensors()).isEqualTo(bytes);
        assertThat(back.config()).isEqualTo(config);
        assertThat(back.baseModelSha256()).isEqualTo(base.weightsSha256());
      }
    }
  }

  @Test
  void importRejectsMissingKeyWrongShapeAndStrayKey() {
    LoraConfig config = LoraConfig.defaults();
    try (LoraAdapter adapter = LoraAdapter.initialise(base, config, 3);
        NDManager manager = NDManager.newBaseManager()) {
      Map<String, NDArray> tensors = new LinkedHashMap<>(adapter.peftTensors());
      String key = "base_model.model.model.layers.2.self_attn.v_proj.lora_B.weight";

      Map<String, NDArray> missing = new LinkedHashMap<>(tensors);
      missing.remove(key);
      assertThatThrownBy(() -> LoraAdapter.fromPeftSafetensors(SafeTensors.toBytes(missing), config, base))
          .isInstanceOf(ModelLoadException.class)
          .hasMessageContaining("missing tensor '" + key + "'");

      Map<String, NDArray> wrongShape = new LinkedHashMap<>(tensors);
      wrongShape.put(key, manager.zeros(new ai.djl.ndarray.types.Shape(128, 8)));
      assertThatThrownBy(() -> LoraAdapter.fromPeftSafetensors(SafeTensors.toBytes(wrongShape), config, base))
          .isInstanceOf(ModelLoadException.class)
          .hasMessageContaining(key)
          .hasMessageContaining("(128, 8)")
          .hasMessageContaining("(64, 8)");

      Map<String, NDArray> stray = new LinkedHashMap<>(tensors);
      stray.put("base_model.model.model.layers.0.mlp.up_proj.lora_A.weight", manager.zeros(new ai.djl.ndarray.types.Shape(8, 128)));
      assertThatThrownBy(() -> LoraAdapter.fromPeftSafetensors(SafeTensors.toBytes(stray), config, base))
          .isInstanceOf(ModelLoadException.class)
          .hasMessageContaining("does not expect")
          .hasMessageContaining("up_proj");
    }
  }

  @Test
  void allLinearTargetsEveryProjectionAndTheReportCountsLikePeft() {
    LoraConfig all = new LoraConfig(4, 8f, java.util.List.of(LoraConfig.ALL_LINEAR), 0f, false);
    org.assertj.core.api.Assertions.assertThat(all.targetModules()).containsExactly(
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj");
    org.assertj.core.api.Assertions.assertThatThrownBy(
        () -> new LoraConfig(4, 8f, java.util.List.of(LoraConfig.ALL_LINEAR, "q_proj"), 0f, false))
        .isInstanceOf(IllegalArgumentException.class);
    try (LoraAdapter adapter = LoraAdapter.initialise(base, LoraConfig.defaults(), 1)) {
      LlamaConfig c = base.config();
      // q: r*(hidden + hidden), v: r*(hidden + kv_dim), per layer
      long expected = (long) c.numHiddenLayers() * 8 * (2L * c.hiddenSize() + c.hiddenSize() + c.kvDim());
      org.assertj.core.api.Assertions.assertThat(adapter.parameterCount()).isEqualTo(expected);
      org.assertj.core.api.Assertions.assertThat(adapter.parameterReport(base))
          .startsWith(String.format(java.util.Locale.ROOT, "trainable params: %,d || all params: ", expected));
    }
  }
}
