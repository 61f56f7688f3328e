package io.lorastream.cli;

import io.lorastream.demo.Demo;
import io.lorastream.demo.SyntheticExamples;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "demo", mixinStandardHelpOptions = true,
    description = "Everything in one process: an embedded Kafka broker, ingest, trainer, gateway on port 8080 and "
        + "synthetic examples for three tenants. Ctrl-C stops it.")
final class DemoCommand implements Callable<Integer> {
  @Option(names = "--port", defaultValue = "8080", description = "Gateway HTTP port (default: ${DEFAULT-VALUE}).")
  int port;

  @Option(names = "--data-dir", description = "Where the embedded broker keeps its data (default: a fresh temporary folder).")
  Path dataDir;

  @Option(names = "--rate", defaultValue = "8", description = "Synthetic examples per second over all tenants (default: ${DEFAULT-VALUE}).")
  double rate;

  @Mixin
  BaseModelOption base = new BaseModelOption();

  @Override
  public Integer call() throws Exception {
    Path data = dataDir != null ? dataDir : Files.createTempDirectory("lorastream-demo");
    Demo demo = new Demo(data, base.resolve(), port, rate);
    String tenant = SyntheticExamples.TENANTS.get(0).tenant();
    String prompt = SyntheticExamples.prompt(SyntheticExamples.firstQuestion()).replace("\n", "\\n");
    System.out.printf("%nlorastream demo is running (Kafka at %s, data in %s).%n", demo.bootstrapServers(), data);
    System.out.printf("Tenants %s are training now. Try:%n%n", SyntheticExamples.TENANTS.stream()
        .map(t -> t.tenant()).toList());
    String key = demo.apiKeysByOwner().get(tenant);
    System.out.printf("  KEY=%s%n", key);
    System.out.printf("  curl -s localhost:%d/v1/models -H \"Authorization: Bearer $KEY\"%n", demo.httpPort());
    System.out.printf("  curl -s localhost:%d/v1/completions -H \"Authorization: Bearer $KEY\" "
        + "-H 'Content-Type: application/json' \\%n"
        + "    -d '{\"model\": \"%s\", \"prompt\": \"%s\", \"max_tokens\": 16}'%n%n", demo.httpPort(), tenant, prompt);
    System.out.println("API keys of this run (each reaches only its own tenant; admin reaches all):");
    demo.apiKeysByOwner().forEach((owner, k) -> System.out.printf("  %-8s %s%n", owner, k));
    System.out.printf("%nLive status of every tenant: http://localhost:%d/ui (enter the admin key).%n%n", demo.httpPort());
    System.out.println("Ctrl-C stops the demo.");
    Shutdown.awaitSignal(demo);
    return 0;
  }
}
