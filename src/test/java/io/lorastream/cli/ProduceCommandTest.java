package io.lorastream.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.lorastream.avro.TrainingExample;
import io.lorastream.contract.AvroCodec;
import io.lorastream.kafka.Topics;
import io.lorastream.testing.EmbeddedKafkaExtension;
import io.lorastream.testing.TopicProbe;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code produce} against a real broker: what is sent, what is rejected with its line, what Kafka acknowledged. */
class ProduceCommandTest {
  @RegisterExtension
  static final EmbeddedKafkaExtension KAFKA = new EmbeddedKafkaExtension();

  @TempDir
  Path dir;

  record Run(int exitCode, String out, String err) {}

  static Run produce(String prefix, String... args) {
    CommandLine cli = Main.commandLine(new ConfigDefaults(Map.of(), new Properties(), Path.of("none")));
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(err));
    List<String> all = new ArrayList<>(List.of("produce", "--bootstrap-servers", KAFKA.bootstrapServers(),
        "--topic-prefix", prefix));
    all.addAll(List.of(args));
    return new Run(cli.execute(all.toArray(String[]::new)), out.toString(), err.toString());
  }

  static String example(String id, String tenant) {
    return "{\"id\":\"" + id + "\",\"tenant\":\"" + tenant + "\",\"prompt\":\"Q: hours?\\nA:\",\"completion\":\" 9 to 5\"}";
  }

  @Test
  void sendsValidLinesAndReportsRejectedOnesWithLineNumbers() throws Exception {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      lines.add(example("ex-" + i, i % 2 == 0 ? "acme" : "globex"));
    }
    lines.add(2, "{\"id\": \"broken\", ");                                   // line 3: not JSON
    lines.add(4, "");                                                       // line 5: blank, skipped
    lines.add(5, example("bad-tenant", "Not A Tenant"));                    // line 6: breaks the rules
    lines.add("{\"id\":\"w\",\"tenant\":\"acme\",\"prompt\":\"p\",\"completion\":\"c\",\"weight\":50}"); // line 10
    lines.add("[1, 2]");                                                    // line 11: not an object
    Path file = dir.resolve("examples.jsonl");
    Files.write(file, lines);

    Run run = produce("produce1.", "--progress", "lines", "--show-rejected", "3", file.toString());

    assertThat(run.exitCode()).as(run.err()).isEqualTo(Main.RUNTIME_FAILURE);
    assertThat(run.out()).contains("11 lines, 6 examples sent to produce1.examples.v1, 6 acknowledged, 0 failed; "
        + "4 lines rejected locally");
    assertThat(run.err()).contains(file + ":3: invalid-json", file + ":6: ", file + ":10: ")
        .contains("... and 1 more rejected lines")
        .doesNotContain(file + ":11:")
        .contains("produce: 100% 11/11 lines, 6 sent, 6 acked, 4 rejected");

    List<ConsumerRecord<String, byte[]>> records = TopicProbe.readUntil(KAFKA.settings(),
        new Topics("produce1.").examples().name(), r -> r.size() >= 6, Duration.ofSeconds(30));
    assertThat(records).hasSize(6);
    List<String> ids = records.stream().map(r -> AvroCodec.TRAINING_EXAMPLE.decode(r.value()))
        .map(TrainingExample::getId).sorted().toList();
    assertThat(ids).containsExactly("ex-0", "ex-1", "ex-2", "ex-3", "ex-4", "ex-5");
    assertThat(records).allSatisfy(r ->
        assertThat(r.key()).isEqualTo(AvroCodec.TRAINING_EXAMPLE.decode(r.value()).getTenant()));
  }

  @Test
  void cleanFileExitsZeroAndRejectsUnknownProgressMode() throws Exception {
    Path file = dir.resolve("clean.jsonl");
    Files.write(file, List.of(example("a", "acme"), example("b", "acme")));
    Run run = produce("produce2.", "--progress", "none", file.toString());
    assertThat(run.exitCode()).as(run.err()).isEqualTo(Main.OK);
    assertThat(run.out()).contains("2 examples sent", "2 acknowledged", "0 lines rejected");
    assertThat(run.err()).isEmpty();

    Run bad = produce("produce2.", "--progress", "fancy", file.toString());
    assertThat(bad.exitCode()).isEqualTo(Main.USAGE_ERROR);
    assertThat(bad.err()).contains("--progress must be auto, bar, lines or none");
  }

  @Test
  void barShowsShareDoneAndCounts() {
    ProduceProgress.Counts half = new ProduceProgress.Counts(50, 100, 48, 40, 2);
    assertThat(ProduceProgress.bar(half, 10)).isEqualTo("[#####-----]  50%  50/100 lines, 48 sent, 40 acked, 2 rejected");
    assertThat(ProduceProgress.bar(new ProduceProgress.Counts(0, 0, 0, 0, 0), 4)).startsWith("[####] 100%");
  }
}
