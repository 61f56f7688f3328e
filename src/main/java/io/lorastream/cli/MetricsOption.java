package io.lorastream.cli;

import io.lorastream.metrics.Metrics;
import io.lorastream.metrics.MetricsServer;
import java.util.function.BooleanSupplier;
import picocli.CommandLine.Option;

/** The {@code --metrics-port} option of processes without an HTTP API of their own. */
final class MetricsOption {
  @Option(names = "--metrics-port", defaultValue = "9400",
      description = "Port of GET /metrics and /healthz (env LORASTREAM_METRICS_PORT; default: ${DEFAULT-VALUE}).")
  int port;

  MetricsServer serve(Metrics metrics) {
    return MetricsServer.start(port, metrics);
  }

  /** With {@code /healthz} answering 503 once {@code failed} holds. */
  MetricsServer serve(Metrics metrics, BooleanSupplier failed) {
    return MetricsServer.start(port, metrics, failed);
  }
}
