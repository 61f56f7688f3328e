package io.lorastream.cli;

import io.lorastream.gateway.ApiKeys;
import io.lorastream.gateway.Gateway;
import io.lorastream.gateway.GatewaySettings;
import io.lorastream.kafka.KafkaSettings;
import io.lorastream.kafka.TopicAdmin;
import io.lorastream.kafka.Topics;
import io.lorastream.metrics.Metrics;
import io.lorastream.model.BaseModel;
import io.lorastream.model.TorchThreads;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "gateway", mixinStandardHelpOptions = true,
    description = "Serve completions with each tenant's newest adapter over an OpenAI-style HTTP API.")
final class GatewayCommand implements Callable<Integer> {
  @Mixin
  KafkaOptions kafka = new KafkaOptions();

  @Mixin
  BaseModelOption base = new BaseModelOption();

  @Option(names = "--port", defaultValue = "8080", description = "HTTP port (default: ${DEFAULT-VALUE}).")
  int port;

  @Option(names = "--api-keys", required = true, paramLabel = "FILE",
      description = "API keys file (hashes only; make one with ./lorastream keys add). Env LORASTREAM_API_KEYS.")
  Path apiKeys;

  @Option(names = "--torch-threads", defaultValue = TorchThreads.AUTO,
      description = "Threads libtorch uses within one operation in this process: " + TorchThreads.AUTO
          + " (the default) is one less than the cores, at least 1, so that the HTTP event loops and Kafka "
          + "clients keep a core; 0 is libtorch's default of one per core. Decode steps are many small "
          + "operations that wait on a thread the event loops hold: on 2 cores, 1 thread instead of 2 "
          + "doubled the gateway's throughput.")
  String torchThreads;

  @Override
  public Integer call() throws Exception {
    int threads = TorchThreads.parse(torchThreads);
    KafkaSettings settings = kafka.settings();
    Topics topics = kafka.topics();
    TopicAdmin.ensureTopics(settings, topics);
    BaseModel model = BaseModel.load(base.resolve());
    TorchThreads.use(threads);
    Gateway gateway = Gateway.start(model, settings, topics, GatewaySettings.defaults().withPort(port),
        ApiKeys.load(apiKeys), Metrics.create());
    Shutdown.awaitSignal(() -> {
      gateway.close();
      model.close();
    });
    return 0;
  }
}
