package io.lorastream.cli;

import io.lorastream.model.BaseModel;
import io.lorastream.model.TinyModelFactory;
import io.lorastream.model.pretrain.BasePretrainer;
import io.lorastream.model.pretrain.TinyBaseRecipe;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "base-model", mixinStandardHelpOptions = true, description = "Base model tools.",
    subcommands = {BaseModelCommand.Init.class, BaseModelCommand.Pretrain.class})
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

  @Command(name = "pretrain", mixinStandardHelpOptions = true,
      description = "Make lorastream-tiny: generate the customer-service corpus, learn a byte-level BPE tokenizer, "
          + "and train a Llama base from scratch for a fixed number of steps (deterministic from seed and steps); "
          + "writes config.json, tokenizer.json, model.safetensors and README.md.")
  static final class Pretrain implements Callable<Integer> {
    @Option(names = "--out", defaultValue = "models/lorastream-tiny", paramLabel = "DIR",
        description = "Folder to write (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of corpus, initial weights and batches (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--steps", description = "Optimizer steps; the learning-rate schedule ends here (default: "
        + "1000, about 3.5 minutes on 2 cores).")
    Integer steps;

    @Option(names = "--minutes", defaultValue = "0",
        description = "Also stop after this much training time; the steps reached are recorded (0: no limit).")
    double minutes;

    @Override
    public Integer call() throws Exception {
      BasePretrainer.Settings defaults = TinyBaseRecipe.defaultSettings(seed);
      BasePretrainer.Settings settings = steps == null ? defaults
          : new BasePretrainer.Settings(steps, defaults.batchSize(), defaults.sequenceLength(),
              defaults.peakLearningRate(), defaults.minLearningRate(),
              Math.max(1, steps / 10), defaults.weightDecay(),
              defaults.maxGradNorm(), seed);
      String command = "./lorastream base-model pretrain --out " + out + " --seed " + seed + " --steps " + settings.steps();
      TinyBaseRecipe.Report report = TinyBaseRecipe.run(out, settings, minutes * 60, System.out::println);
      TinyBaseRecipe.writeModelCard(out, report, command);
      System.out.printf("wrote %s (sha256 %s)%n", out, report.weightsSha256());
      return 0;
    }
  }
}
