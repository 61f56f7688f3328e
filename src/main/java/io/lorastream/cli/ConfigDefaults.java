package io.lorastream.cli;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import picocli.CommandLine;
import picocli.CommandLine.IDefaultValueProvider;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * The one configuration rule of every command: a flag on the command line beats an environment
 * variable, which beats a properties file, which beats the built-in default.
 *
 * <p>Names derive from the option's long name. {@code --batch-max-wait-ms} is the environment
 * variable {@code LORASTREAM_BATCH_MAX_WAIT_MS} and the file key {@code batch-max-wait-ms}. Options
 * that several commands share a name with ({@code --port}) can be set for one command alone with
 * its path in front: {@code LORASTREAM_GATEWAY_PORT} / {@code gateway.port}; within the
 * environment and within the file, that qualified name beats the plain one. The file is the one
 * named by {@code --config FILE}, else by {@code LORASTREAM_CONFIG}; a key it holds that names no
 * option is an error, so a typo does not go unnoticed. Positional parameters, repeatable options
 * and {@code --help}/{@code --version} come from the command line only.
 */
final class ConfigDefaults implements IDefaultValueProvider {
  static final String ENV_PREFIX = "LORASTREAM_";
  static final String CONFIG_OPTION = "--config";
  static final String CONFIG_ENV = ENV_PREFIX + "CONFIG";

  private final Map<String, String> env;
  private final Properties file;
  private final Path filePath;
  // Options whose value came from here, with where from (for error messages).
  private final Map<ArgSpec, String> sources = new ConcurrentHashMap<>();

  ConfigDefaults(Map<String, String> env, Properties file, Path filePath) {
    this.env = Map.copyOf(env);
    this.file = file;
    this.filePath = filePath;
  }

  /** The defaults for one run: the environment given, and the file {@code args} or the environment name. */
  static ConfigDefaults of(String[] args, Map<String, String> env) {
    Path path = configFile(args, env);
    return new ConfigDefaults(env, path == null ? new Properties() : load(path), path);
  }

  /** {@code --config FILE} or {@code --config=FILE} anywhere among the arguments, else {@value #CONFIG_ENV}. */
  static Path configFile(String[] args, Map<String, String> env) {
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--")) {
        break;
      }
      if (args[i].equals(CONFIG_OPTION)) {
        if (i + 1 >= args.length) {
          throw new IllegalArgumentException(CONFIG_OPTION + " needs a FILE");
        }
        return Path.of(args[i + 1]);
      }
      if (args[i].startsWith(CONFIG_OPTION + "=")) {
        return Path.of(args[i].substring(CONFIG_OPTION.length() + 1));
      }
    }
    String fromEnv = env.get(CONFIG_ENV);
    return fromEnv == null || fromEnv.isBlank() ? null : Path.of(fromEnv);
  }

  private static Properties load(Path path) {
    if (!Files.isRegularFile(path)) {
      throw new IllegalArgumentException("configuration file " + path + " does not exist; pass an existing "
          + "properties file with " + CONFIG_OPTION + " FILE or " + CONFIG_ENV);
    }
    Properties properties = new Properties();
    try (Reader in = Files.newBufferedReader(path, StandardCharsets.UTF_8)) {
      properties.load(in);
    } catch (IOException | IllegalArgumentException e) {
      throw new IllegalArgumentException("cannot read configuration file " + path + ": " + e.getMessage(), e);
    }
    return properties;
  }

  @Override
  public String defaultValue(ArgSpec arg) {
    if (!(arg instanceof OptionSpec option) || !configurable(option)) {
      return null;
    }
    String name = name(option);
    String qualified = commandPath(option.command()) + name;
    for (String candidate : List.of(envName(qualified), envName(name))) {
      String value = env.get(candidate);
      if (value != null) {
        sources.put(option, "environment variable " + candidate);
        return value;
      }
    }
    for (String key : List.of(qualified, name)) {
      String value = file.getProperty(key);
      if (value != null) {
        sources.put(option, "key " + key + " of " + filePath);
        return value;
      }
    }
    return null;
  }

  /** Where the value of {@code arg} came from when not from the command line; empty for a flag or a default. */
  Optional<String> source(ArgSpec arg) {
    return Optional.ofNullable(arg == null ? null : sources.get(arg));
  }

  /** Keys of the file that name no configurable option of {@code root}'s commands; empty when all do. */
  List<String> unknownFileKeys(CommandLine root) {
    Set<String> known = new TreeSet<>();
    collectKeys(root, known);
    List<String> unknown = new ArrayList<>();
    for (String key : new TreeSet<>(file.stringPropertyNames())) {
      if (!known.contains(key)) {
        unknown.add(key);
      }
    }
    return unknown;
  }

  Path filePath() {
    return filePath;
  }

  private static void collectKeys(CommandLine command, Set<String> keys) {
    for (OptionSpec option : command.getCommandSpec().options()) {
      if (configurable(option)) {
        keys.add(name(option));
        keys.add(commandPath(command.getCommandSpec()) + name(option));
      }
    }
    command.getSubcommands().values().forEach(sub -> collectKeys(sub, keys));
  }

  /** Single-valued options other than help, version and {@code --config} itself. */
  static boolean configurable(OptionSpec option) {
    return !option.usageHelp() && !option.versionHelp() && !option.isMultiValue()
        && !option.longestName().equals(CONFIG_OPTION);
  }

  /** {@code --batch-max-wait-ms} → {@code batch-max-wait-ms}. */
  static String name(OptionSpec option) {
    return option.longestName().replaceFirst("^-+", "");
  }

  /** {@code batch-max-wait-ms} → {@code LORASTREAM_BATCH_MAX_WAIT_MS}; {@code adapters.export.out} → {@code LORASTREAM_ADAPTERS_EXPORT_OUT}. */
  static String envName(String key) {
    return ENV_PREFIX + key.replace('-', '_').replace('.', '_').toUpperCase(Locale.ROOT);
  }

  /** The command's names below the top-level command, each followed by a dot: {@code "adapters.export."}. */
  static String commandPath(CommandSpec command) {
    List<String> names = new ArrayList<>();
    for (CommandSpec c = command; c != null && c.parent() != null; c = c.parent()) {
      names.add(0, c.name());
    }
    return names.isEmpty() ? "" : String.join(".", names) + ".";
  }
}
