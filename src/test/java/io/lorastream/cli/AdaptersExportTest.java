package io.lorastream.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.lorastream.avro.AdapterSnapshot;
import io.lorastream.contract.Sha256;
import io.lorastream.kafka.TopicAdmin;
import io.lorastream.kafka.Topics;
import io.lorastream.model.BaseModel;
import io.lorastream.model.CausalLm;
import io.lorastream.model.LoraAdapter;
import io.lorastream.model.LoraConfig;
import io.lorastream.model.TinyModelFactory;
import io.lorastream.testing.EmbeddedKafkaExtension;
import io.lorastream.testing.Snapshots;
import io.lorastream.testing.TestAdapters;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code adapters export} against a real broker: the PEFT folder holds the published bytes, and
 * {@code --merged} writes a model folder that computes, without an adapter, what the base model
 * computes with the tenant's adapter; a snapshot of another base model is refused.
 */
class AdaptersExportTest {
  @RegisterExtension
  static final EmbeddedKafkaExtension KAFKA = new EmbeddedKafkaExtension();

  @TempDir
  Path tmp;

  @Test
  void exportsThePeftFolderAndTheMergedModel() throws Exception {
    Path baseDir = tmp.resolve("base");
    TinyModelFactory.create(baseDir, 7);
    Topics topics = new Topics("export.");
    TopicAdmin.ensureTopics(KAFKA.settings(), topics);
    try (BaseModel base = BaseModel.load(baseDir); LoraAdapter adapter = randomAdapter(base)) {
      byte[] weights = adapter.toPeftSafetensors();
      AdapterSnapshot snapshot = AdapterSnapshot.newBuilder(Snapshots.of(base, "acme", 3, 1, adapter.config()))
          .setWeights(ByteBuffer.wrap(weights)).setWeightsSha256(Sha256.hex(weights)).build();
      Snapshots.publish(KAFKA.settings(), topics.adapters().name(), snapshot);

      Path peft = tmp.resolve("peft");
      assertThat(run(new StringWriter(), "adapters", "export", "acme", "--out", peft.toString(),
          "--bootstrap-servers", KAFKA.bootstrapServers(), "--topic-prefix", "export.")).isZero();
      assertThat(Files.readAllBytes(peft.resolve("adapter_model.safetensors"))).isEqualTo(weights);

      Path merged = tmp.resolve("merged");
      assertThat(run(new StringWriter(), "adapters", "export", "acme", "--merged", "--out", merged.toString(),
          "--base-model", baseDir.toString(), "--bootstrap-servers", KAFKA.bootstrapServers(),
          "--topic-prefix", "export.")).isZero();
      try (BaseModel mergedBase = BaseModel.load(merged); NDManager m = NDManager.newBaseManager()) {
        NDArray tokens = m.create(new long[] {5, 17, 33, 40, 2, 9}).reshape(1, 6);
        float[] want = new CausalLm(base).logits(tokens, adapter).toFloatArray();
        float[] got = new CausalLm(mergedBase).logits(tokens, null).toFloatArray();
        float[] plain = new CausalLm(base).logits(tokens, null).toFloatArray();
        assertThat(maxDifference(got, want)).isLessThan(1e-4f);
        assertThat(maxDifference(plain, want)).as("the adapter changes the logits").isGreaterThan(1e-2f);
      }

      Path otherBase = tmp.resolve("other");
      TinyModelFactory.create(otherBase, 8);
      StringWriter err = new StringWriter();
      assertThat(run(err, "adapters", "export", "acme", "--merged", "--out", tmp.resolve("no").toString(),
          "--base-model", otherBase.toString(), "--bootstrap-servers", KAFKA.bootstrapServers(),
          "--topic-prefix", "export.")).isEqualTo(Main.RUNTIME_FAILURE);
      assertThat(err.toString()).contains("was trained on base model " + base.weightsSha256());
      assertThat(tmp.resolve("no")).doesNotExist();
    }
  }

  /** An all-projection adapter with random, non-zero B (a fresh one adds exactly nothing). */
  private static LoraAdapter randomAdapter(BaseModel base) {
    LoraAdapter adapter = LoraAdapter.initialise(base, new LoraConfig(4, 8f, java.util.List.of("all-linear"), 0f,
        false, null), 3);
    TestAdapters.randomiseB(base, adapter, 4);
    return adapter;
  }

  private static float maxDifference(float[] a, float[] b) {
    float max = 0;
    for (int i = 0; i < a.length; i++) {
      max = Math.max(max, Math.abs(a[i] - b[i]));
    }
    return max;
  }

  private static int run(StringWriter err, String... args) {
    CommandLine cli = Main.commandLine(new ConfigDefaults(Map.of(), new Properties(), Path.of("none")));
    cli.setOut(new PrintWriter(new StringWriter()));
    cli.setErr(new PrintWriter(err));
    return cli.execute(args);
  }
}
