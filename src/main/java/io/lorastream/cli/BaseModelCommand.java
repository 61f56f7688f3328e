package io.lorastream.cli;

import io.lorastream.model.BaseModel;
import io.lorastream.model.TinyModelFactory;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "base-model", mixinStandardHelpOptions = true, description = "Base model tools.",
    subcommands = BaseModelCommand.Init.class)
final class BaseModelCommand implements Runnable {
  @Override
  public void run() {
    new picocli.CommandLine(this).usage(System.out);
  }

  @Command(name = "init", mixinStandardHelpOptions = true,
      description = "Write the tiny Llama-architecture base model (config.json, model.safetensors, tokenizer.json), "
          + "deterministic from the seed.")
  static final class Init implements Callable<Integer> {
    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Folder to write.")
    Path out;

    @Option(names = "--seed", defaultValue = "42", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Override
    public Integer call() {
      TinyModelFactory.create(out, seed);
      try (BaseModel model = BaseModel.load(out)) {
        System.out.printf("wrote %s (sha256 %s)%n", out, model.weightsSha256());
      }
      return 0;
    }
  }
}
