package io.lorastream.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.lorastream.avro.TrainingExample;
import io.lorastream.contract.AvroCodec;
import io.lorastream.contract.ExampleRules;
import io.lorastream.kafka.KafkaSettings;
import io.lorastream.kafka.TopicAdmin;
import io.lorastream.kafka.Topics;
import java.io.BufferedReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

@Command(name = "produce", mixinStandardHelpOptions = true,
    description = "Send training examples from a JSONL file (one {\"id\", \"tenant\", \"prompt\", \"completion\", "
        + "\"weight\"?, \"metadata\"?} per line) to the examples topic. Invalid lines are reported, not sent.")
final class ProduceCommand implements Callable<Integer> {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Mixin
  KafkaOptions kafka = new KafkaOptions();

  @Parameters(paramLabel = "FILE", description = "JSONL file of examples.")
  Path file;

  @Override
  public Integer call() throws Exception {
    KafkaSettings settings = kafka.settings();
    Topics topics = kafka.topics();
    TopicAdmin.ensureTopics(settings, topics);
    int sent = 0;
    int rejected = 0;
    try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8);
        KafkaProducer<String, byte[]> producer = new KafkaProducer<>(settings.producer(), new StringSerializer(),
            new ByteArraySerializer())) {
      String line;
      int lineNo = 0;
      while ((line = in.readLine()) != null) {
        lineNo++;
        if (line.isBlank()) {
          continue;
        }
        Optional<String> problem;
        TrainingExample example = null;
        try {
          example = parse(JSON.readTree(line));
          problem = ExampleRules.violation(null, example);
        } catch (Exception e) {
          problem = Optional.of("invalid-json: " + e.getMessage());
        }
        if (problem.isPresent()) {
          rejected++;
          System.err.printf("%s:%d: %s%n", file, lineNo, problem.get());
          continue;
        }
        producer.send(new ProducerRecord<>(topics.examples().name(), example.getTenant(),
            AvroCodec.TRAINING_EXAMPLE.encode(example)));
        sent++;
      }
      producer.flush();
    }
    System.out.printf("sent %d examples to %s, rejected %d%n", sent, topics.examples().name(), rejected);
    return rejected == 0 ? 0 : 2;
  }

  private static TrainingExample parse(JsonNode node) {
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
