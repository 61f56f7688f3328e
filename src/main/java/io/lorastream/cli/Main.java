package io.lorastream.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/**
 * Entry point of the {@code ./lorastream} launcher. Every command takes its settings by the rule of
 * {@link ConfigDefaults} (flag, then environment, then {@code --config} file, then default) and ends
 * with one of the {@link #EXIT_CODES}.
 */
@Command(name = "lorastream", mixinStandardHelpOptions = true, version = "lorastream 0.1.0",
    description = "Continual per-tenant LoRA fine-tuning from Kafka, with multi-tenant serving.",
    subcommands = {
        DemoCommand.class,
        BrokerCommand.class,
        TopicsCommand.class,
        BaseModelCommand.class,
        IngestCommand.class,
        TrainerCommand.class,
        GatewayCommand.class,
        ProduceCommand.class,
        KeysCommand.class,
        AdaptersCommand.class,
        BenchCommand.class,
        EvalCommand.class,
    })
public final class Main implements Runnable {
  static final int OK = 0;
  static final int RUNTIME_FAILURE = 1;
  static final int USAGE_ERROR = 2;
  /** What every command's {@code --help} says about its exit status. */
  static final Map<String, String> EXIT_CODES = Map.of(
      " " + OK, "done",
      " " + RUNTIME_FAILURE, "failed while running (Kafka unreachable, a file unreadable, input rejected, ...)",
      " " + USAGE_ERROR, "usage error: an unknown option, a bad value or a missing argument; see --help");

  // Read by ConfigDefaults before parsing (it decides the defaults); declared so every command accepts it.
  @Option(names = ConfigDefaults.CONFIG_OPTION, paramLabel = "FILE", scope = ScopeType.INHERIT,
      description = "Properties file of settings (keys are option names without dashes, e.g. batch-size=16); "
          + "flags and LORASTREAM_* environment variables win over it (env LORASTREAM_CONFIG).")
  Path config;

  public static void main(String[] args) {
    System.exit(run(args, System.getenv()));
  }

  /** Parses and runs {@code args} with {@code env} as the environment; returns the exit code. */
  static int run(String[] args, Map<String, String> env) {
    CommandLine cli;
    try {
      cli = commandLine(ConfigDefaults.of(args, env));
    } catch (IllegalArgumentException e) {
      System.err.println("lorastream: " + e.getMessage());
      return USAGE_ERROR;
    }
    return cli.execute(args);
  }

  /** The command tree with {@code defaults} below every command's flags. */
  static CommandLine commandLine(ConfigDefaults defaults) {
    CommandLine cli = new CommandLine(new Main());
    List<String> unknown = defaults.unknownFileKeys(cli);
    if (!unknown.isEmpty()) {
      throw new IllegalArgumentException("configuration file " + defaults.filePath() + " sets " + unknown
          + ", which no command takes from a file; keys are the names of single-valued options without dashes, "
          + "optionally after a command path (gateway.port; see ./lorastream COMMAND --help)");
    }
    cli.setDefaultValueProvider(defaults);
    exitCodesInHelp(cli);
    // A bad value that did not come from a flag: say where it came from, or it is hard to find.
    CommandLine.IParameterExceptionHandler usage = cli.getParameterExceptionHandler();
    cli.setParameterExceptionHandler((e, args) -> {
      String source = defaults.source(e.getArgSpec()).orElse(null);
      if (source == null || onCommandLine(e.getArgSpec(), args)) {
        return usage.handleParseException(e, args);
      }
      CommandLine.ParameterException located = new CommandLine.ParameterException(e.getCommandLine(),
          e.getMessage() + " (set by " + source + ")", e, e.getArgSpec(), e.getValue());
      return usage.handleParseException(located, args);
    });
    // Users see one line saying what went wrong, not a stack trace.
    cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
      cmd.getErr().println("lorastream " + cmd.getCommandName() + ": " + message(e));
      return RUNTIME_FAILURE;
    });
    return cli;
  }

  private static boolean onCommandLine(ArgSpec arg, String[] args) {
    if (!(arg instanceof OptionSpec option)) {
      return true;
    }
    for (String a : args) {
      for (String name : option.names()) {
        if (a.equals(name) || a.startsWith(name + "=")) {
          return true;
        }
      }
    }
    return false;
  }

  private static void exitCodesInHelp(CommandLine command) {
    command.getCommandSpec().usageMessage().exitCodeListHeading("Exit codes:%n")
        .exitCodeList(new TreeMap<>(EXIT_CODES));
    command.getSubcommands().values().forEach(Main::exitCodesInHelp);
  }

  private static String message(Throwable e) {
    String text = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    return e.getCause() != null && e.getCause().getMessage() != null && !text.contains(e.getCause().getMessage())
        ? text + " (" + e.getCause().getMessage() + ")" : text;
  }

  @Override
  public void run() {
    new CommandLine(this).usage(System.out);
  }
}
