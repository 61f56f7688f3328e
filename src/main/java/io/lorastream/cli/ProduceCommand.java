package io.lorastream.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.lorastream.avro.TrainingExample;
import io.lorastream.contract.AvroCodec;
import io.lorastream.contract.ExampleRules;
import io.lorastream.kafka.KafkaSettings;
import io.lorastream.kafka.TopicAdmin;
import io.lorastream.kafka.Topics;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "produce", mixinStandardHelpOptions = true,
    description = {"Send training examples from a JSONL file to the examples topic.",
        "One {\"id\", \"tenant\", \"prompt\", \"completion\", \"weight\"?, \"eventTime\"? (epoch ms), \"metadata\"?} "
        + "per line. Lines that are not JSON or break the example rules are reported with their line numbers and not "
        + "sent; the command ends with the counts sent, acknowledged by Kafka and rejected, and exits 1 unless every "
        + "line was sent and acknowledged."})
final class ProduceCommand implements Callable<Integer> {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Mixin
  KafkaOptions kafka = new KafkaOptions();

  @Parameters(paramLabel = "FILE", description = "JSONL file of examples.")
  Path file;

  @Option(names = "--progress", defaultValue = "auto", paramLabel = "MODE",
      description = "Progress on stderr: auto (a bar on a terminal, else a line every 5 s), bar, lines or none "
          + "(default: ${DEFAULT-VALUE}).")
  String progress;

  @Option(names = "--show-rejected", defaultValue = "10", paramLabel = "N",
      description = "How many rejected lines to list (the count covers all of them; default: ${DEFAULT-VALUE}).")
  int showRejected;

  @Spec
  CommandSpec spec;

  /** A line not sent, and why. */
  record Rejection(long line, String reason) {}

  @Override
  public Integer call() throws Exception {
    ProduceProgress.Mode mode = mode(progress);
    if (showRejected < 0) {
      throw new ParameterException(spec.commandLine(), "--show-rejected must be >= 0, not " + showRejected,
          spec.findOption("--show-rejected"), Integer.toString(showRejected));
    }
    if (!Files.isReadable(file)) {
      throw new IllegalArgumentException("cannot read " + file + ": give a JSONL file of examples");
    }
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    KafkaSettings settings = kafka.settings();
    Topics topics = kafka.topics();
    TopicAdmin.ensureTopics(settings, topics);
    String topic = topics.examples().name();

    long totalLines = countLines(file);
    ProduceProgress shown = ProduceProgress.of(mode, err, System.console() != null);
    List<Rejection> rejected = new ArrayList<>();
    AtomicLong acknowledged = new AtomicLong();
    AtomicLong failed = new AtomicLong();
    AtomicReference<Exception> firstFailure = new AtomicReference<>();
    long sent = 0;
    long lineNo = 0;
    try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8);
        KafkaProducer<String, byte[]> producer = new KafkaProducer<>(settings.producer(), new StringSerializer(),
            new ByteArraySerializer())) {
      String line;
      while ((line = in.readLine()) != null) {
        lineNo++;
        if (!line.isBlank()) {
          Optional<String> problem;
          TrainingExample example = null;
          try {
            example = parse(JSON.readTree(line));
            problem = ExampleRules.violation(null, example);
          } catch (JsonProcessingException e) {
            problem = Optional.of("invalid-json: " + firstLine(e.getOriginalMessage()));
          } catch (IllegalArgumentException e) {
            problem = Optional.of("invalid-example: " + e.getMessage());
          }
          if (problem.isPresent()) {
            rejected.add(new Rejection(lineNo, problem.get()));
          } else {
            producer.send(new ProducerRecord<>(topic, example.getTenant(), AvroCodec.TRAINING_EXAMPLE.encode(example)),
                (metadata, e) -> {
                  if (e == null) {
                    acknowledged.incrementAndGet();
                  } else {
                    failed.incrementAndGet();
                    firstFailure.compareAndSet(null, e);
                  }
                });
            sent++;
          }
        }
        shown.update(new ProduceProgress.Counts(lineNo, totalLines, sent, acknowledged.get(), rejected.size()));
      }
      producer.flush();
    }
    shown.finish(new ProduceProgress.Counts(lineNo, totalLines, sent, acknowledged.get(), rejected.size()));

    for (Rejection r : rejected.subList(0, Math.min(showRejected, rejected.size()))) {
      err.printf("%s:%d: %s%n", file, r.line(), r.reason());
    }
    if (rejected.size() > showRejected) {
      err.printf("... and %d more rejected lines (--show-rejected N lists more)%n", rejected.size() - showRejected);
    }
    if (firstFailure.get() != null) {
      err.printf("Kafka refused %d examples; first error: %s%n", failed.get(), firstFailure.get().getMessage());
    }
    out.printf("%s: %d lines, %d examples sent to %s, %d acknowledged, %d failed; %d lines rejected locally%n",
        file, lineNo, sent, topic, acknowledged.get(), failed.get(), rejected.size());
    out.flush();
    err.flush();
    return rejected.isEmpty() && failed.get() == 0 && acknowledged.get() == sent ? Main.OK : Main.RUNTIME_FAILURE;
  }

  private ProduceProgress.Mode mode(String value) {
    try {
      return ProduceProgress.Mode.valueOf(value.strip().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(),
          "--progress must be auto, bar, lines or none, not '" + value + "'", spec.findOption("--progress"), value);
    }
  }

  private static long countLines(Path file) throws IOException {
    try (Stream<String> lines = Files.lines(file, StandardCharsets.UTF_8)) {
      return lines.count();
    }
  }

  private static String firstLine(String message) {
    if (message == null) {
      return "unreadable line";
    }
    int newline = message.indexOf('\n');
    return newline < 0 ? message : message.substring(0, newline);
  }

  private static TrainingExample parse(JsonNode node) {
    if (!node.isObject()) {
      throw new IllegalArgumentException("the line is not a JSON object");
    }
    Map<String, String> metadata = new HashMap<>();
    JsonNode meta = node.path("metadata");
    for (Iterator<Map.Entry<String, JsonNode>> it = meta.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      metadata.put(e.getKey(), e.getValue().asText());
    }
    return TrainingExample.newBuilder()
        .setId(required(node, "id"))
        .setTenant(required(node, "tenant"))
        .setPrompt(required(node, "prompt"))
        .setCompletion(required(node, "completion"))
        .setWeight(node.has("weight") ? (float) node.get("weight").asDouble() : 1.0f)
        .setEventTime(node.has("eventTime") ? Instant.ofEpochMilli(node.get("eventTime").asLong()) : Instant.now())
        .setMetadata(metadata)
        .build();
  }

  private static String required(JsonNode node, String field) {
    JsonNode value = node.get(field);
    if (value == null || !value.isTextual()) {
      throw new IllegalArgumentException("'" + field + "' must be a string");
    }
    return value.asText();
  }
}
