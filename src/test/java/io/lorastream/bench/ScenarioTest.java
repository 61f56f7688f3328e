package io.lorastream.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.lorastream.avro.TrainingExample;
import io.lorastream.contract.ExampleRules;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Properties;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ScenarioTest {
  private static Properties props(String text) throws Exception {
    Properties p = new Properties();
    p.load(new StringReader(text));
    return p;
  }

  private static final String MINIMAL = """
      tenants=3
      examples.per-second=2.5
      requests.per-second=1
      requests.max-tokens=8
      duration-seconds=20
      warmup-seconds=5
      baseline-seconds=4
      seed=9
      """;

  @Test
  void readsEveryKeyAndFillsTheDefaults() throws Exception {
    Scenario s = Scenario.parse("mini", props(MINIMAL + "trainer.batch-max-wait-ms=250\n"));
    assertThat(s.tenants()).isEqualTo(3);
    assertThat(s.examplesPerSecond()).isEqualTo(2.5);
    assertThat(s.maxTokens()).isEqualTo(8);
    assertThat(s.seed()).isEqualTo(9);
    assertThat(s.batchMaxWaitMs()).isEqualTo(250);
    assertThat(s.batchSize()).isEqualTo(8);
    assertThat(s.contextWords()).isZero();
    assertThat(s.openGate()).isTrue();
    assertThat(s.torchThreads()).isZero();
    assertThat(s.drainTimeoutSeconds()).isEqualTo(60);
    assertThat(Scenario.parse("mini", props(MINIMAL + "trainer.torch-threads=1\n")).torchThreads()).isEqualTo(1);
    assertThat(s.trainThreads()).isEqualTo(1);
    assertThat(Scenario.parse("mini", props(MINIMAL + "trainer.train-threads=2\n")).trainThreads()).isEqualTo(2);
  }

  @Test
  void refusesMissingUnknownAndOutOfRangeKeysWithTheirNames() throws Exception {
    assertThatThrownBy(() -> Scenario.parse("x", props(MINIMAL.replace("seed=9\n", ""))))
        .hasMessageContaining("missing key 'seed'");
    assertThatThrownBy(() -> Scenario.parse("x", props(MINIMAL + "tenant=4\n")))
        .hasMessageContaining("unknown keys [tenant]");
    assertThatThrownBy(() -> Scenario.parse("x", props(MINIMAL.replace("tenants=3", "tenants=0"))))
        .hasMessageContaining("tenants must be 1..100000");
    assertThatThrownBy(() -> Scenario.parse("x", props(MINIMAL.replace("tenants=3", "tenants=many"))))
        .hasMessageContaining("'tenants' must be a whole number, got 'many'");
    assertThatThrownBy(() -> Scenario.parse("x", props(MINIMAL.replace("warmup-seconds=5", "warmup-seconds=20"))))
        .hasMessageContaining("warmup-seconds must be >= 0 and below duration-seconds");
    assertThatThrownBy(() -> Scenario.parse("x", props(MINIMAL + "trainer.open-gate=yes\n")))
        .hasMessageContaining("'trainer.open-gate' must be true or false");
    assertThatThrownBy(() -> Scenario.parse("x", props(MINIMAL + "trainer.torch-threads=-1\n")))
        .hasMessageContaining("trainer.torch-threads must be >= 0");
    assertThatThrownBy(() -> Scenario.parse("x", props(MINIMAL + "trainer.train-threads=0\n")))
        .hasMessageContaining("trainer.train-threads must be >= 1");
  }

  @Test
  void everyShippedScenarioFileLoads() throws Exception {
    try (Stream<Path> files = Files.list(Path.of("load-tests", "scenarios"))) {
      for (Path file : files.filter(f -> f.toString().endsWith(".properties")).toList()) {
        assertThat(Scenario.load(file).name()).isEqualTo(file.getFileName().toString().replace(".properties", ""));
      }
    }
    assertThat(Files.isRegularFile(E2eBench.QUICK_SCENARIO)).isTrue();
    assertThat(Files.isRegularFile(E2eBench.FULL_SCENARIO)).isTrue();
  }

  @Test
  void loadNamesTheFileInItsErrors(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("broken.properties");
    Files.writeString(file, MINIMAL.replace("seed=9", "seed=x"));
    assertThatThrownBy(() -> Scenario.load(file)).hasMessageContaining(file.toString())
        .hasMessageContaining("'seed' must be a whole number");
  }

  @Test
  void workloadIsAFunctionOfTheSeedAndValidExamples() throws Exception {
    Scenario s = Scenario.parse("mini", props(MINIMAL + "prompt.context-words=5\n"));
    ScenarioWorkload a = new ScenarioWorkload(s);
    ScenarioWorkload b = new ScenarioWorkload(s);
    Instant t = Instant.ofEpochMilli(1_000);
    for (long i = 0; i < 30; i++) {
      TrainingExample e = a.example(i, t);
      assertThat(e).isEqualTo(b.example(i, t));
      assertThat(e.getTenant()).isEqualTo(ScenarioWorkload.tenant((int) (i % 3)));
      assertThat(e.getPrompt()).startsWith("Context: ").contains("Question: ");
      assertThat(ExampleRules.violation(e.getTenant(), e, t)).isEmpty();
      assertThat(a.request(i)).isEqualTo(b.request(i));
      assertThat(a.request(i).maxTokens()).isEqualTo(8);
    }
    ScenarioWorkload other = new ScenarioWorkload(Scenario.parse("mini", props(MINIMAL.replace("seed=9", "seed=10"))));
    assertThat(Stream.iterate(0L, i -> i + 1).limit(30).filter(i -> !other.request(i).equals(a.request(i))).count())
        .isPositive();
  }
}
