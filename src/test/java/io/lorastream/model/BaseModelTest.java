package io.lorastream.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BaseModelTest {
  @TempDir Path tmp;

  @Test
  void sameSeedGivesIdenticalFilesAndOtherSeedAnotherDigest() throws IOException {
    Path a = tmp.resolve("a");
    Path b = tmp.resolve("b");
    Path c = tmp.resolve("c");
    TinyModelFactory.create(a, 7);
    TinyModelFactory.create(b, 7);
    TinyModelFactory.create(c, 8);
    for (String f : new String[] {"config.json", "model.safetensors", "tokenizer.json"}) {
      assertThat(Files.readAllBytes(a.resolve(f))).as(f).isEqualTo(Files.readAllBytes(b.resolve(f)));
    }
    try (BaseModel ma = BaseModel.load(a);
        BaseModel mb = BaseModel.load(b);
        BaseModel mc = BaseModel.load(c)) {
      assertThat(ma.weightsSha256()).hasSize(64).isEqualTo(mb.weightsSha256());
      assertThat(mc.weightsSha256()).isNotEqualTo(ma.weightsSha256());
      assertThat(ma.config()).isEqualTo(TinyModelFactory.CONFIG);
      assertThat(ma.directory()).isEqualTo(a);
    }
  }

  @Test
  void configRoundTripsThroughConfigJson() {
    LlamaConfig config = new LlamaConfig(1000, 64, 172, 3, 8, 2, 1e-6, 500000.0, 4096, true, 5, 6);
    Path file = tmp.resolve("config.json");
    config.write(file);
    assertThat(LlamaConfig.read(file)).isEqualTo(config);
    assertThat(config.headDim()).isEqualTo(8);
  }

  @Test
  void rejectsInconsistentConfig() {
    assertThatThrownBy(() -> new LlamaConfig(100, 130, 64, 1, 4, 2, 1e-5, 1e4, 64, false, 1, 2))
        .hasMessageContaining("not divisible by num_attention_heads");
    assertThatThrownBy(() -> new LlamaConfig(100, 128, 64, 1, 4, 3, 1e-5, 1e4, 64, false, 1, 2))
        .hasMessageContaining("num_key_value_heads");
  }

  @Test
  void rejectsUnsupportedModelType() throws IOException {
    Path dir = tmp.resolve("m");
    TinyModelFactory.create(dir, 1);
    Path config = dir.resolve("config.json");
    Files.writeString(config, Files.readString(config).replace("\"llama\"", "\"mistral\""));
    assertThatThrownBy(() -> BaseModel.load(dir))
        .isInstanceOf(ModelLoadException.class)
        .hasMessageContaining("model_type 'mistral' is not supported");
  }

  @Test
  void missingTensorIsNamed() {
    Path dir = tmp.resolve("m");
    TinyModelFactory.create(dir, 1);
    rewriteWeights(dir, w -> w.remove("model.layers.2.mlp.up_proj.weight").close());
    assertThatThrownBy(() -> BaseModel.load(dir))
        .isInstanceOf(ModelLoadException.class)
        .hasMessageContaining("missing tensor 'model.layers.2.mlp.up_proj.weight'");
  }

  @Test
  void wrongShapeNamesBothShapes() {
    Path dir = tmp.resolve("m");
    TinyModelFactory.create(dir, 1);
    rewriteWeights(
        dir,
        w -> {
          NDArray old = w.get("model.layers.1.self_attn.k_proj.weight");
          w.put("model.layers.1.self_attn.k_proj.weight", old.transpose());
        });
    assertThatThrownBy(() -> BaseModel.load(dir))
        .isInstanceOf(ModelLoadException.class)
        .hasMessageContaining("model.layers.1.self_attn.k_proj.weight")
        .hasMessageContaining("(128, 64)")
        .hasMessageContaining("(64, 128)");
  }

  @Test
  void loadsShardedCheckpointAndHashesShardsInIndexOrder() throws IOException {
    Path dir = tmp.resolve("m");
    TinyModelFactory.create(dir, 3);
    try (NDManager manager = NDManager.newBaseManager()) {
      Map<String, NDArray> all = SafeTensors.read(dir.resolve("model.safetensors"), manager);
      Map<String, NDArray> first = new LinkedHashMap<>();
      Map<String, NDArray> second = new LinkedHashMap<>();
      StringBuilder index = new StringBuilder("{\"metadata\": {}, \"weight_map\": {");
      int i = 0;
      for (Map.Entry<String, NDArray> e : all.entrySet()) {
        boolean one = e.getKey().contains("layers.0") || e.getKey().startsWith("model.embed");
        (one ? first : second).put(e.getKey(), e.getValue());
        index.append(i++ == 0 ? "" : ",").append('"').append(e.getKey()).append("\": \"")
            .append(one ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors")
            .append('"');
      }
      SafeTensors.write(dir.resolve("model-00001-of-00002.safetensors"), first);
      SafeTensors.write(dir.resolve("model-00002-of-00002.safetensors"), second);
      Files.writeString(dir.resolve("model.safetensors.index.json"), index.append("}}").toString());
      Files.delete(dir.resolve("model.safetensors"));
    }
    try (BaseModel model = BaseModel.load(dir)) {
      assertThat(model.tensors()).hasSize(2 + 4 * 9 + 1);
      java.security.MessageDigest sha = sha256();
      sha.update(Files.readAllBytes(dir.resolve("model-00001-of-00002.safetensors")));
      sha.update(Files.readAllBytes(dir.resolve("model-00002-of-00002.safetensors")));
      assertThat(model.weightsSha256()).isEqualTo(java.util.HexFormat.of().formatHex(sha.digest()));
    }
  }

  @Test
  void tokenizerRoundTripsAsciiAndUtf8() {
    Path dir = tmp.resolve("m");
    TinyModelFactory.create(dir, 1);
    try (BaseModel model = BaseModel.load(dir)) {
      TextTokenizer tok = model.tokenizer();
      assertThat(tok.vocabSize()).isEqualTo(259);
      assertThat(tok.bosId()).isEqualTo(1);
      assertThat(tok.eosId()).isEqualTo(2);
      for (String text :
          new String[] {
            "Hello, world!", "  two  spaces\tand\nnewlines ", "naïve café – 東京 😀", "", "a"
          }) {
        int[] ids = tok.encode(text);
        assertThat(ids).hasSize(text.getBytes(java.nio.charset.StandardCharsets.UTF_8).length);
        assertThat(tok.decode(ids)).isEqualTo(text);
      }
      assertThat(tok.encode("A")).containsExactly(3 + 'A');
      int[] withSpecials = {1, 3 + 'h', 3 + 'i', 2};
      assertThat(tok.decode(withSpecials)).isEqualTo("hi");
    }
  }

  static java.security.MessageDigest sha256() {
    try {
      return java.security.MessageDigest.getInstance("SHA-256");
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Loads a model's weights, lets {@code edit} change the map, and writes them back. */
  static void rewriteWeights(Path dir, java.util.function.Consumer<Map<String, NDArray>> edit) {
    try (NDManager manager = NDManager.newBaseManager()) {
      Path file = dir.resolve("model.safetensors");
      Map<String, NDArray> weights = new LinkedHashMap<>(SafeTensors.read(file, manager));
      edit.accept(weights);
      SafeTensors.write(file, weights);
    }
  }
}
