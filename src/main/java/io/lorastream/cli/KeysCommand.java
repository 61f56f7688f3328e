package io.lorastream.cli;

import io.lorastream.gateway.ApiKeys;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "keys", mixinStandardHelpOptions = true, description = "Manage the gateway's API keys file.",
    subcommands = KeysCommand.Add.class)
final class KeysCommand implements Runnable {
  @Override
  public void run() {
    new picocli.CommandLine(this).usage(System.out);
  }

  @Command(name = "add", mixinStandardHelpOptions = true,
      description = "Create a key, add its hash to the keys file (created if missing) and print the key once.")
  static final class Add implements Callable<Integer> {
    @Option(names = "--file", required = true, paramLabel = "FILE", description = "The API keys file.")
    Path file;

    @Option(names = "--id", required = true, description = "A name for the key (shown in logs, never the key).")
    String id;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Owner owner;

    static final class Owner {
      @Option(names = "--tenant", description = "The tenant this key belongs to.")
      String tenant;

      @Option(names = "--admin", description = "An admin key reaches every tenant.")
      boolean admin;
    }

    @Override
    public Integer call() {
      List<ApiKeys.Entry> entries = new ArrayList<>();
      if (Files.exists(file)) {
        entries.addAll(ApiKeys.load(file).entries());
      }
      if (entries.stream().anyMatch(e -> e.id().equals(id))) {
        throw new IllegalArgumentException("a key named '" + id + "' is already in " + file);
      }
      String key = ApiKeys.newKey();
      entries.add(ApiKeys.entry(id, owner.admin ? null : owner.tenant, key));
      ApiKeys.of(entries).write(file);
      System.out.println(key);
      return 0;
    }
  }
}
