package io.lorastream.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/** The README's configuration reference is the one the commands generate, and names every option. */
class ConfigReferenceTest {
  static final Path README = Path.of("README.md");

  @Test
  void readmeHoldsTheGeneratedReference() throws Exception {
    String generated = ConfigReference.markdown();
    Path current = Path.of("target", "config-reference.md");
    Files.createDirectories(current.getParent());
    Files.writeString(current, generated + "\n", StandardCharsets.UTF_8);

    String readme = Files.readString(README, StandardCharsets.UTF_8);
    int start = readme.indexOf(ConfigReference.START);
    int end = readme.indexOf(ConfigReference.END);
    assertThat(start).as("README.md has the reference markers").isGreaterThanOrEqualTo(0);
    assertThat(end).isGreaterThan(start);
    String inReadme = readme.substring(start, end + ConfigReference.END.length());
    if (Boolean.getBoolean("lorastream.updateReadme") && !inReadme.equals(generated)) {
      Files.writeString(README, readme.replace(inReadme, generated), StandardCharsets.UTF_8);
      inReadme = generated;
    }
    assertThat(inReadme)
        .as("README.md's configuration reference is out of date: copy " + current.toAbsolutePath()
            + " into README.md, or run this test with -Dlorastream.updateReadme=true")
        .isEqualTo(generated);
  }

  @Test
  void everyOptionOfEveryCommandIsInTheReference() {
    String reference = ConfigReference.markdown();
    CommandLine root = Main.commandLine(new ConfigDefaults(Map.of(), new Properties(), Path.of("none")));
    assertEveryOptionListed(root, reference);
    assertThat(reference).contains(
        "| `--batch-max-wait-ms` | `LORASTREAM_TRAINER_BATCH_MAX_WAIT_MS` or `LORASTREAM_BATCH_MAX_WAIT_MS` | `1000` |",
        "| `--port` | `LORASTREAM_GATEWAY_PORT` or `LORASTREAM_PORT` | `8080` |",
        "| `--kafka-property` | flag only |");
  }

  private static void assertEveryOptionListed(CommandLine command, String reference) {
    String path = command.getCommandSpec().qualifiedName(" ").replaceFirst("^lorastream ?", "");
    for (OptionSpec option : command.getCommandSpec().options()) {
      if (option.usageHelp() || option.versionHelp() || option.longestName().equals(ConfigDefaults.CONFIG_OPTION)) {
        continue;
      }
      int table = reference.indexOf("**`" + path + "`**");
      assertThat(table).as("a table for '" + path + "'").isGreaterThanOrEqualTo(0);
      int next = reference.indexOf("**`", table + 3);
      String rows = reference.substring(table, next < 0 ? reference.length() : next);
      assertThat(rows).as(path + " " + option.longestName()).contains("| `" + option.longestName() + "` |");
    }
    command.getSubcommands().values().forEach(sub -> assertEveryOptionListed(sub, reference));
  }
}
