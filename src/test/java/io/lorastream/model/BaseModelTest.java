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
  void readsLlama3RopeScalingAsTransformersDefinesIt() throws IOException {
    Path file = tmp.resolve("config.json");
    Files.writeString(
        file,
        "{\"model_type\": \"llama\", \"architectures\": [\"LlamaForCausalLM\"],"
            + " \"vocab_size\": 128256, \"hidden_size\": 2048, \"intermediate_size\": 8192,"
            + " \"num_hidden_layers\": 16, \"num_attention_heads\": 32, \"num_key_value_heads\": 8,"
            + " \"rms_norm_eps\": 1e-05, \"rope_theta\": 500000.0, \"max_position_embeddings\": 131072,"
            + " \"tie_word_embeddings\": true, \"bos_token_id\": 128000,"
            + " \"eos_token_id\": [128001, 128008, 128009],"
            + " \"rope_scaling\": {\"factor\": 32.0, \"high_freq_factor\": 4.0, \"low_freq_factor\": 1.0,"
            + " \"original_max_position_embeddings\": 8192, \"rope_type\": \"llama3\"}}");
    LlamaConfig config = LlamaConfig.read(file);
    assertThat(config.ropeScaling())
        .isEqualTo(new LlamaConfig.RopeScaling("llama3", 32, 1, 4, 8192));
    assertThat(config.eosTokenId()).isEqualTo(128001);
    float[] scaled = config.ropeInverseFrequencies();
    float[] plain = new LlamaConfig(128256, 2048, 8192, 16, 32, 8, 1e-5, 500000.0, 131072, true, 128000, 128001)
        .ropeInverseFrequencies();
    assertThat(scaled).hasSize(32);
    assertThat(scaled[0]).isEqualTo(plain[0]); // wavelength 2*pi < 8192/4: kept
    assertThat(scaled[31]).isCloseTo(plain[31] / 32, org.assertj.core.data.Offset.offset(1e-12f)); // low: / factor
    int medium = 0;
    for (int i = 0; i < 32; i++) {
      double wavelength = 2 * Math.PI / plain[i];
      if (wavelength >= 2048 && wavelength <= 8192) {
        medium++;
        assertThat(scaled[i]).isBetween(plain[i] / 32, plain[i]);
      }
    }
    assertThat(medium).isPositive();
    Path again = tmp.resolve("again.json");
    config.write(again);
    assertThat(LlamaConfig.read(again)).isEqualTo(config);
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
  void loadsF16WeightsAsF32() throws IOException {
    Path dir = tmp.resolve("m");
    TinyModelFactory.create(dir, 4);
    Path f16Dir = tmp.resolve("f16");
    Files.createDirectories(f16Dir);
    Files.copy(dir.resolve("config.json"), f16Dir.resolve("config.json"));
    Files.copy(dir.resolve("tokenizer.json"), f16Dir.resolve("tokenizer.json"));
    try (NDManager manager = NDManager.newBaseManager()) {
      Map<String, NDArray> weights = SafeTensors.read(dir.resolve("model.safetensors"), manager);
      Files.write(f16Dir.resolve("model.safetensors"), f16File(weights));
    }
    try (BaseModel f32 = BaseModel.load(dir);
        BaseModel f16 = BaseModel.load(f16Dir);
        NDManager manager = NDManager.newBaseManager()) {
      NDArray embedding = f16.weights().tokenEmbedding();
      assertThat(embedding.getDataType()).isEqualTo(ai.djl.ndarray.types.DataType.FLOAT32);
      NDArray ids = manager.create(new long[] {1, 50, 60, 70}, new ai.djl.ndarray.types.Shape(1, 4));
      float err = new CausalLm(f32).logits(ids, null).sub(new CausalLm(f16).logits(ids, null)).abs().max().getFloat();
      assertThat(err).isLessThan(1e-2f);
    }
  }

  /** A safetensors file of {@code weights} in F16, written by hand. */
  private static byte[] f16File(Map<String, NDArray> weights) throws IOException {
    StringBuilder header = new StringBuilder("{");
    java.io.ByteArrayOutputStream data = new java.io.ByteArrayOutputStream();
    for (Map.Entry<String, NDArray> e : weights.entrySet()) {
      long[] shape = e.getValue().getShape().getShape();
      byte[] bytes = e.getValue().toType(ai.djl.ndarray.types.DataType.FLOAT16, false).toByteArray();
      header.append(header.length() > 1 ? "," : "").append('"').append(e.getKey())
          .append("\":{\"dtype\":\"F16\",\"shape\":").append(java.util.Arrays.toString(shape).replace(" ", ""))
          .append(",\"data_offsets\":[").append(data.size()).append(',').append(data.size() + bytes.length).append("]}");
      data.write(bytes);
    }
    byte[] json = header.append('}').toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    out.write(java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(json.length).array());
    out.write(json);
    data.writeTo(out);
    return out.toByteArray();
  }

  @Test
  void tiedEmbeddingsServeAsTheHead() throws IOException {
    Path dir = tmp.resolve("m");
    TinyModelFactory.create(dir, 5);
    Path config = dir.resolve("config.json");
    Files.writeString(config, Files.readString(config).replace("\"tie_word_embeddings\" : false", "\"tie_word_embeddings\" : true"));
    rewriteWeights(dir, w -> w.remove("lm_head.weight").close());
    try (BaseModel model = BaseModel.load(dir)) {
      assertThat(model.config().tieWordEmbeddings()).isTrue();
      assertThat(model.weights().lmHead()).isSameAs(model.weights().tokenEmbedding());
      assertThat(model.tensors()).doesNotContainKey("lm_head.weight");
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
      String longText = "Ünïcödé and ASCII, over and over. ".repeat(100);
      assertThat(tok.decode(tok.encode(longText))).as("no truncation").isEqualTo(longText);
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
