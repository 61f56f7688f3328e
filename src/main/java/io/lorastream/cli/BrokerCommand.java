package io.lorastream.cli;

import io.lorastream.kafka.StandaloneBroker;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "broker", mixinStandardHelpOptions = true,
    description = "A standalone single-node Kafka (KRaft) broker for development; storage is formatted on first start.")
final class BrokerCommand implements Callable<Integer> {
  @Option(names = "--data-dir", defaultValue = "data/broker", description = "Broker data folder (default: ${DEFAULT-VALUE}).")
  Path dataDir;

  @Option(names = "--port", defaultValue = "9092", description = "Client port (default: ${DEFAULT-VALUE}).")
  int port;

  @Override
  public Integer call() throws Exception {
    StandaloneBroker.runUntilInterrupted(dataDir, port);
    return 0;
  }
}
