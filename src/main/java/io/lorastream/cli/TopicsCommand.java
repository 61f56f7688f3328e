package io.lorastream.cli;

import io.lorastream.kafka.Topic;
import io.lorastream.kafka.TopicAdmin;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(name = "topics", mixinStandardHelpOptions = true, description = "Manage lorastream's topics.",
    subcommands = TopicsCommand.Create.class)
final class TopicsCommand implements Runnable {
  @Override
  public void run() {
    new picocli.CommandLine(this).usage(System.out);
  }

  @Command(name = "create", mixinStandardHelpOptions = true,
      description = "Create every lorastream topic with its configs; existing topics are left alone.")
  static final class Create implements Callable<Integer> {
    @Mixin
    KafkaOptions kafka = new KafkaOptions();

    @Override
    public Integer call() {
      TopicAdmin.ensureTopics(kafka.settings(), kafka.topics());
      for (Topic<?, ?> topic : kafka.topics().all()) {
        System.out.println(topic.name());
      }
      return 0;
    }
  }
}
