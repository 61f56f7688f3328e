package io.lorastream.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the {@code ./lorastream} launcher. */
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

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }

  static CommandLine commandLine() {
    CommandLine cli = new CommandLine(new Main());
    // Users see one line saying what went wrong, not a stack trace.
    cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
      cmd.getErr().println("lorastream " + cmd.getCommandName() + ": " + message(e));
      return 1;
    });
    return cli;
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
