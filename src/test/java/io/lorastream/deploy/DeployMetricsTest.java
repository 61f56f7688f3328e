package io.lorastream.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.lorastream.metrics.Metrics;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** Alerts, dashboard and README name only metrics that lorastream registers (or Strimzi exports). */
class DeployMetricsTest {
  /** Metrics of Strimzi's Kafka Exporter, not of lorastream. */
  static final Set<String> KAFKA_EXPORTER = Set.of("kafka_consumergroup_lag");

  private static final Pattern METRIC = Pattern.compile("\\b(?:lorastream|jvm|process|kafka)_[a-zA-Z0-9_]+");
  private static final List<String> SUFFIXES = List.of("", "_total", "_bucket", "_sum", "_count", "_created");

  /**
   * Base names (counters without {@code _total}) of every metric a scrape of a fresh registry
   * returns. Read from the snapshots, not the text format, which leaves out labelled metrics that
   * have no labels set yet.
   */
  static Set<String> registered() {
    Set<String> names = new TreeSet<>();
    for (MetricSnapshot snapshot : Metrics.create().registry().scrape()) {
      names.add(snapshot.getMetadata().getPrometheusName());
    }
    return names;
  }

  static boolean exists(String name, Set<String> registered) {
    if (KAFKA_EXPORTER.contains(name)) {
      return true;
    }
    for (String suffix : SUFFIXES) {
      if (name.endsWith(suffix) && registered.contains(name.substring(0, name.length() - suffix.length()))) {
        return true;
      }
    }
    return false;
  }

  static Set<String> metricsIn(String expr) {
    Set<String> names = new TreeSet<>();
    Matcher m = METRIC.matcher(expr);
    while (m.find()) {
      names.add(m.group());
    }
    return names;
  }

  @Test
  void theRegistryHasTheLorastreamMetrics() {
    assertThat(registered()).contains("lorastream_ingest_rejected", "lorastream_gateway_requests",
        "lorastream_trainer_snapshots_gated", "lorastream_trainer_snapshots_published",
        "lorastream_trainer_nonfinite_steps");
  }

  @Test
  void alertRulesUseExistingMetrics() {
    Set<String> registered = registered();
    List<String> exprs = new ArrayList<>();
    for (Manifests.Doc rule : Manifests.ofKind("PrometheusRule")) {
      for (JsonNode group : rule.node().at("/spec/groups")) {
        for (JsonNode r : group.path("rules")) {
          exprs.add(r.path("expr").asText());
        }
      }
    }
    assertThat(exprs).hasSizeGreaterThanOrEqualTo(5);
    Set<String> used = new TreeSet<>();
    for (String expr : exprs) {
      Set<String> names = metricsIn(expr);
      assertThat(names).as("metrics in %s", expr).isNotEmpty();
      used.addAll(names);
    }
    assertThat(used).allSatisfy(n -> assertThat(exists(n, registered)).as("metric %s", n).isTrue());
    assertThat(used).contains("kafka_consumergroup_lag", "lorastream_trainer_snapshots_gated_total",
        "lorastream_trainer_snapshots_published_total", "lorastream_ingest_rejected_total",
        "lorastream_gateway_requests_total", "lorastream_trainer_nonfinite_steps_total");
  }

  @Test
  void dashboardUsesExistingMetrics() throws Exception {
    Set<String> registered = registered();
    Manifests.Doc configMap = Manifests.ofKind("ConfigMap").stream()
        .filter(d -> d.node().at("/metadata/labels/grafana_dashboard").isTextual()).findFirst().orElseThrow();
    JsonNode dashboard = Manifests.JSON.readTree(configMap.node().at("/data/lorastream.json").asText());
    List<String> exprs = new ArrayList<>();
    for (JsonNode panel : dashboard.path("panels")) {
      for (JsonNode target : panel.path("targets")) {
        exprs.add(target.path("expr").asText());
      }
    }
    assertThat(exprs).isNotEmpty();
    for (String expr : exprs) {
      Set<String> names = metricsIn(expr);
      assertThat(names).as("metrics in %s", expr).isNotEmpty();
      assertThat(names).allSatisfy(n -> assertThat(exists(n, registered)).as("metric %s in %s", n, expr).isTrue());
    }
  }

  @Test
  void readmeListsEveryLorastreamMetric() throws Exception {
    String readme = Files.readString(Path.of("README.md"));
    String section = readme.substring(readme.indexOf("## Metrics"));
    for (String name : registered()) {
      if (name.startsWith("lorastream_")) {
        assertThat(section.contains("`" + name + "`") || section.contains("`" + name + "_total`"))
            .as("README lists %s", name).isTrue();
      }
    }
    for (String name : metricsIn(section)) {
      assertThat(exists(name, registered())).as("README metric %s", name).isTrue();
    }
  }
}
