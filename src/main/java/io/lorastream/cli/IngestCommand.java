package io.lorastream.cli;

import io.lorastream.ingest.IngestService;
import io.lorastream.ingest.IngestSettings;
import io.lorastream.kafka.KafkaSettings;
import io.lorastream.kafka.TopicAdmin;
import io.lorastream.kafka.Topics;
import io.lorastream.metrics.Metrics;
import io.lorastream.metrics.MetricsServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import org.apache.kafka.streams.KafkaStreams;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "ingest", mixinStandardHelpOptions = true,
    description = "Validate, deduplicate and split examples into the clean examples topic (Kafka Streams, "
        + "exactly once); rejects go to the DLQ with a reason.")
final class IngestCommand implements Callable<Integer> {
  @Mixin
  KafkaOptions kafka = new KafkaOptions();

  @Option(names = "--state-dir", defaultValue = "data/ingest",
      description = "Where the dedupe store lives (default: ${DEFAULT-VALUE}).")
  Path stateDir;

  @Option(names = "--application-id", defaultValue = IngestSettings.DEFAULT_APPLICATION_ID,
      description = "Kafka Streams application id; instances with the same id share the work (default: ${DEFAULT-VALUE}).")
  String applicationId;

  @Option(names = "--dedupe-window-hours", defaultValue = "168",
      description = "An example id seen again within this many hours is dropped (default: ${DEFAULT-VALUE}).")
  long dedupeWindowHours;

  @Option(names = "--holdout-share", defaultValue = "0.1",
      description = "Share of example ids kept out of training for evaluation (default: ${DEFAULT-VALUE}).")
  double holdoutShare;

  @Option(names = "--max-future-skew-hours", defaultValue = "24",
      description = "Event times more than this many hours ahead of the clock are refused (default: ${DEFAULT-VALUE}).")
  long maxFutureSkewHours;

  @Option(names = "--max-event-age-hours", defaultValue = "720",
      description = "Event times more than this many hours old are refused (default: ${DEFAULT-VALUE}).")
  long maxEventAgeHours;

  @Option(names = "--removed-tenant", paramLabel = "TENANT",
      description = "A removed tenant whose examples are refused (repeatable).")
  List<String> removedTenants = new ArrayList<>();

  @Option(names = "--tenant-examples-per-second", defaultValue = "100",
      description = "Each tenant's sustained example rate; the excess goes to the DLQ as rate-limited "
          + "(default: ${DEFAULT-VALUE}).")
  double tenantExamplesPerSecond;

  @Option(names = "--tenant-burst", defaultValue = "10000",
      description = "Examples a tenant may send at once before the rate applies (default: ${DEFAULT-VALUE}).")
  int tenantBurst;

  @Mixin
  MetricsOption metricsOption = new MetricsOption();

  @Override
  public Integer call() throws Exception {
    IngestSettings settings = new IngestSettings(Duration.ofHours(dedupeWindowHours), holdoutShare, applicationId,
        Duration.ofHours(maxFutureSkewHours), Duration.ofHours(maxEventAgeHours), Set.copyOf(removedTenants),
        tenantExamplesPerSecond, tenantBurst);
    KafkaSettings kafkaSettings = kafka.settings();
    Topics topics = kafka.topics();
    TopicAdmin.ensureTopics(kafkaSettings, topics);
    Files.createDirectories(stateDir);
    Metrics metrics = Metrics.create();
    IngestService ingest = IngestService.start(kafkaSettings, topics, settings, metrics, stateDir);
    // Kafka Streams in ERROR processes nothing more: /healthz fails so the process gets restarted.
    MetricsServer metricsServer = metricsOption.serve(metrics, () -> ingest.state() == KafkaStreams.State.ERROR);
    Shutdown.awaitSignal(() -> {
      ingest.close();
      metricsServer.close();
    });
    return 0;
  }
}
