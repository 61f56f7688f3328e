package io.lorastream.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.lorastream.kafka.KafkaSettings;
import io.lorastream.train.TrainerSettings;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** Flag beats environment beats properties file beats default, for every command; parsing only, nothing runs. */
class ConfigDefaultsTest {
  @TempDir
  Path dir;

  static Properties file(String... keyValues) {
    Properties p = new Properties();
    for (int i = 0; i < keyValues.length; i += 2) {
      p.setProperty(keyValues[i], keyValues[i + 1]);
    }
    return p;
  }

  static CommandLine cli(Map<String, String> env, Properties file) {
    return Main.commandLine(new ConfigDefaults(env, file, Path.of("test.properties")));
  }

  static TrainerCommand trainer(Map<String, String> env, Properties file, String... args) {
    CommandLine cli = cli(env, file);
    String[] all = new String[args.length + 1];
    all[0] = "trainer";
    System.arraycopy(args, 0, all, 1, args.length);
    cli.parseArgs(all);
    return cli.getSubcommands().get("trainer").getCommand();
  }

  @Test
  void flagBeatsEnvironmentBeatsFileBeatsDefault() {
    assertThat(trainer(Map.of(), file()).batchSize).isEqualTo(8);
    assertThat(trainer(Map.of(), file("batch-size", "11")).batchSize).isEqualTo(11);
    assertThat(trainer(Map.of("LORASTREAM_BATCH_SIZE", "12"), file("batch-size", "11")).batchSize).isEqualTo(12);
    assertThat(trainer(Map.of("LORASTREAM_BATCH_SIZE", "12"), file("batch-size", "11"), "--batch-size", "13")
        .batchSize).isEqualTo(13);
  }

  @Test
  void theTrainersOptionsReachItsSettings() {
    TrainerSettings defaults = trainer(Map.of(), file()).trainerSettings();
    assertThat(defaults.training().learningRate()).isEqualTo(TrainerSettings.DEFAULT_LEARNING_RATE);
    assertThat(defaults.batchSize()).isEqualTo(TrainerSettings.defaults().batchSize());
    TrainerSettings set = trainer(Map.of("LORASTREAM_LEARNING_RATE", "0.003"), file(), "--batch-size", "4",
        "--train-threads", "2").trainerSettings();
    assertThat(set.training().learningRate()).isEqualTo(3e-3f);
    assertThat(set.batchSize()).isEqualTo(4);
    assertThat(set.trainThreads()).isEqualTo(2);
    assertThat(set.learningRateScale(1, 0)).isEqualTo(0.5f);
    assertThat(set.learningRateDecayExamples()).isEqualTo(TrainerSettings.DEFAULT_LEARNING_RATE_DECAY_EXAMPLES);
    assertThat(trainer(Map.of(), file(), "--learning-rate-decay-examples", "0").trainerSettings()
        .learningRateDecayExamples()).isZero();
  }

  @Test
  void sharedOptionsOfMixinsFollowTheSameRule() {
    TrainerCommand fromEnv = trainer(Map.of("LORASTREAM_BOOTSTRAP_SERVERS", "kafka-1:9093",
        "LORASTREAM_METRICS_PORT", "9555"), file("topic-prefix", "staging."));
    assertThat(fromEnv.kafka.bootstrapServers).isEqualTo("kafka-1:9093");
    assertThat(fromEnv.kafka.topicPrefix).isEqualTo("staging.");
    assertThat(fromEnv.metricsOption.port).isEqualTo(9555);
    assertThat(fromEnv.batchMaxWaitMs).isEqualTo(1000L);
    assertThat(trainer(Map.of(), file()).kafka.bootstrapServers).isEqualTo("localhost:9092");
  }

  @Test
  void commandQualifiedNameBeatsThePlainOne() {
    CommandLine cli = cli(Map.of("LORASTREAM_PORT", "9000", "LORASTREAM_GATEWAY_PORT", "9100",
        "LORASTREAM_API_KEYS", "keys.json"), file("broker.port", "9200", "port", "9300"));
    cli.parseArgs("gateway");
    GatewayCommand gateway = cli.getSubcommands().get("gateway").getCommand();
    assertThat(gateway.port).isEqualTo(9100);
    // A required option is satisfied from the environment.
    assertThat(gateway.apiKeys).isEqualTo(Path.of("keys.json"));

    CommandLine other = cli(Map.of("LORASTREAM_PORT", "9000"), file("broker.port", "9200", "port", "9300"));
    other.parseArgs("broker");
    assertThat(((BrokerCommand) other.getSubcommands().get("broker").getCommand()).port).isEqualTo(9000);
    CommandLine fileOnly = cli(Map.of(), file("broker.port", "9200", "port", "9300"));
    fileOnly.parseArgs("broker");
    assertThat(((BrokerCommand) fileOnly.getSubcommands().get("broker").getCommand()).port).isEqualTo(9200);
  }

  @Test
  void envNamesDeriveFromOptionNames() {
    assertThat(ConfigDefaults.envName("batch-max-wait-ms")).isEqualTo("LORASTREAM_BATCH_MAX_WAIT_MS");
    assertThat(ConfigDefaults.envName("adapters.export.out")).isEqualTo("LORASTREAM_ADAPTERS_EXPORT_OUT");
  }

  @Test
  void configFileComesFromTheFlagElseTheEnvironment() throws Exception {
    Path config = dir.resolve("lorastream.properties");
    Files.writeString(config, "# trainer settings\nbatch-size=21\n");
    assertThat(ConfigDefaults.configFile(new String[] {"trainer", "--config", config.toString()}, Map.of()))
        .isEqualTo(config);
    assertThat(ConfigDefaults.configFile(new String[] {"--config=" + config}, Map.of())).isEqualTo(config);
    assertThat(ConfigDefaults.configFile(new String[] {"trainer"}, Map.of("LORASTREAM_CONFIG", config.toString())))
        .isEqualTo(config);

    String[] args = {"trainer", "--config", config.toString()};
    CommandLine cli = Main.commandLine(ConfigDefaults.of(args, Map.of()));
    cli.parseArgs(args);
    assertThat(((TrainerCommand) cli.getSubcommands().get("trainer").getCommand()).batchSize).isEqualTo(21);
  }

  @Test
  void unknownOrMissingFileIsAUsageErrorThatSaysWhatToDo() throws Exception {
    assertThatThrownBy(() -> cli(Map.of(), file("batch-sise", "3")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("[batch-sise]").hasMessageContaining("single-valued options without dashes");
    assertThatThrownBy(() -> ConfigDefaults.of(new String[] {"--config", dir.resolve("nope").toString()}, Map.of()))
        .hasMessageContaining("does not exist");
    assertThat(Main.run(new String[] {"--config", dir.resolve("nope").toString(), "trainer"}, Map.of()))
        .isEqualTo(Main.USAGE_ERROR);
  }

  @Test
  void everyCommandHasHelpWithExitCodesAndUsageErrorsExitWithTwo() {
    CommandLine cli = cli(Map.of(), file());
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(err));
    for (String command : cli.getSubcommands().keySet()) {
      assertThat(cli.execute(command, "--help")).as(command).isEqualTo(Main.OK);
    }
    assertThat(out.toString()).contains("Exit codes:", "usage error");
    assertThat(cli.execute("trainer", "--batch-size", "many")).isEqualTo(Main.USAGE_ERROR);
    assertThat(err.toString()).contains("--batch-size", "many");
    // A bad value from the environment is reported against its option too.
    CommandLine badEnv = cli(Map.of("LORASTREAM_BATCH_SIZE", "many"), file());
    StringWriter badEnvErr = new StringWriter();
    badEnv.setErr(new PrintWriter(badEnvErr));
    assertThat(badEnv.execute("trainer", "--group-id", "g")).isEqualTo(Main.USAGE_ERROR);
    assertThat(badEnvErr.toString()).contains("--batch-size", "many", "set by environment variable LORASTREAM_BATCH_SIZE");
    CommandLine badFile = cli(Map.of(), file("trainer.batch-size", "lots"));
    StringWriter badFileErr = new StringWriter();
    badFile.setErr(new PrintWriter(badFileErr));
    assertThat(badFile.execute("trainer")).isEqualTo(Main.USAGE_ERROR);
    assertThat(badFileErr.toString()).contains("set by key trainer.batch-size of test.properties");
    // A bad flag is the flag's fault, whatever the environment says.
    CommandLine badFlag = cli(Map.of("LORASTREAM_BATCH_SIZE", "12"), file());
    StringWriter badFlagErr = new StringWriter();
    badFlag.setErr(new PrintWriter(badFlagErr));
    assertThat(badFlag.execute("trainer", "--batch-size=many")).isEqualTo(Main.USAGE_ERROR);
    assertThat(badFlagErr.toString()).contains("many").doesNotContain("set by");
  }

  @Test
  void kafkaClientPropertiesComeFromAFileAndFlagsWinOverIt() throws Exception {
    Path client = dir.resolve("client.properties");
    Files.writeString(client, "security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\n");
    TrainerCommand trainer = trainer(Map.of("LORASTREAM_KAFKA_CONFIG", client.toString()), file(),
        "--kafka-property", "sasl.mechanism=PLAIN");
    KafkaSettings settings = trainer.kafka.settings();
    assertThat(settings.clientProperties()).containsEntry("security.protocol", "SASL_SSL")
        .containsEntry("sasl.mechanism", "PLAIN");
    assertThat(settings.consumer("g")).containsEntry("security.protocol", "SASL_SSL");

    Files.writeString(client, "bootstrap.servers=elsewhere:9092\n");
    assertThatThrownBy(() -> trainer(Map.of(), file(), "--kafka-config", client.toString()).kafka.settings())
        .hasMessageContaining("--bootstrap-servers");
  }
}
