package io.lorastream.cli;

import io.lorastream.metrics.Metrics;
import io.lorastream.metrics.MetricsServer;
import picocli.CommandLine.Option;

/** The {@code --metrics-port} option of processes without an HTTP API of their own. */
final class MetricsOption {
  @Option(names = "--metrics-port", defaultValue = "9400",
      description = "Port of GET /metrics and /healthz (env LORASTREAM_METRICS_PORT; default: ${DEFAULT-VALUE}).")
  int port;

  MetricsServer serve(Metrics metrics) {
    return MetricsServer.start(port, metrics);
  }
}
