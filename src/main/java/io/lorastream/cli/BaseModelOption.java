package io.lorastream.cli;

import io.lorastream.model.TinyModelFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The {@code --base-model} option, with the project's tiny model as the default. */
final class BaseModelOption {
  /** Where the shipped lorastream-tiny model lives, relative to the working directory. */
  static final Path SHIPPED = Path.of("models", "lorastream-tiny");
  /** Where a randomly initialised tiny model is made when the shipped one is absent. */
  static final Path GENERATED = Path.of("data", "lorastream-tiny-random");
  static final long DEFAULT_SEED = 42L;

  @Option(names = "--base-model", paramLabel = "DIR",
      description = "Hugging Face style Llama model folder (config.json, model.safetensors, tokenizer.json); "
          + "default: models/lorastream-tiny, made if missing.")
  Path baseModel;

  Path resolve() {
    if (baseModel != null) {
      if (!Files.isRegularFile(baseModel.resolve("config.json"))) {
        throw new IllegalArgumentException("no config.json in " + baseModel
            + "; point --base-model at a Hugging Face model folder, or make one with ./lorastream base-model init --out DIR");
      }
      return baseModel;
    }
    if (Files.isRegularFile(SHIPPED.resolve("config.json"))) {
      return SHIPPED;
    }
    if (!Files.isRegularFile(GENERATED.resolve("config.json"))) {
      TinyModelFactory.create(GENERATED, DEFAULT_SEED);
    }
    return GENERATED;
  }
}
