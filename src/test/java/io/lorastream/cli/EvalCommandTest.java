package io.lorastream.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.lorastream.contract.ExampleRules;
import io.lorastream.avro.TrainingExample;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class EvalCommandTest {
  @TempDir
  Path out;

  @Test
  void writesTheDatasetAsJsonlThatPassesTheExampleRules() throws Exception {
    assertThat(run("eval", "--write-dataset", "--tenants", "4", "--examples", "5", "--out", out.toString()))
        .isEqualTo(0);
    List<String> train = Files.readAllLines(out.resolve("train.jsonl"));
    assertThat(train).hasSize(20);
    ObjectMapper json = new ObjectMapper();
    for (String line : train) {
      JsonNode node = json.readTree(line);
      TrainingExample example = TrainingExample.newBuilder().setId(node.get("id").asText())
          .setTenant(node.get("tenant").asText()).setPrompt(node.get("prompt").asText())
          .setCompletion(node.get("completion").asText()).setWeight(1f).setEventTime(Instant.now())
          .setMetadata(Map.of("fact", node.path("metadata").path("fact").asText())).build();
      assertThat(ExampleRules.violation(example.getTenant(), example)).isEmpty();
    }
    assertThat(json.readTree(train.get(0)).get("tenant").asText()).isEqualTo("acme");
    assertThat(Files.readAllLines(out.resolve("heldout.jsonl"))).hasSize(4 * 18);
    assertThat(Files.readAllLines(out.resolve("canary.jsonl"))).isNotEmpty();
  }

  @Test
  void refusesAGatewayWithoutAKeyAndTooManyTenants() {
    StringWriter err = new StringWriter();
    assertThat(run(err, "eval", "--gateway", "http://localhost:1")).isEqualTo(2);
    assertThat(err.toString()).contains("--gateway and --api-key go together");
    err = new StringWriter();
    assertThat(run(err, "eval", "--tenants", "41")).isEqualTo(2);
    assertThat(err.toString()).contains("--tenants must be in 1..40");
  }

  private static int run(String... args) {
    return run(new StringWriter(), args);
  }

  private static int run(StringWriter err, String... args) {
    CommandLine cli = Main.commandLine(new ConfigDefaults(Map.of(), new Properties(), Path.of("none")));
    cli.setOut(new PrintWriter(new StringWriter()));
    cli.setErr(new PrintWriter(err));
    return cli.execute(args);
  }
}
