package io.lorastream.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.lorastream.avro.AdapterControl;
import io.lorastream.avro.AdapterSnapshot;
import io.lorastream.contract.AvroCodec;
import io.lorastream.contract.SnapshotFacts;
import io.lorastream.contract.Bytes;
import io.lorastream.contract.TenantId;
import io.lorastream.kafka.KafkaSettings;
import io.lorastream.kafka.TopicAdmin;
import io.lorastream.kafka.Topics;
import io.lorastream.model.BaseModel;
import io.lorastream.model.LoraAdapter;
import io.lorastream.model.LoraConfig;
import io.lorastream.model.Precision;
import io.lorastream.train.AdapterControls;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Published adapters: list, show and export read the adapters topic; rollback and import send a
 * control record that the trainer owning the tenant applies ({@link AdapterControls}).
 */
@Command(name = "adapters", mixinStandardHelpOptions = true,
    description = "List, show, export, import and roll back tenants' adapters.",
    subcommands = {AdaptersCommand.ListAdapters.class, AdaptersCommand.Show.class, AdaptersCommand.Export.class,
        AdaptersCommand.Import.class, AdaptersCommand.Rollback.class})
final class AdaptersCommand implements Runnable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration READ_TIMEOUT = Duration.ofSeconds(60);

  @Override
  public void run() {
    new CommandLine(this).usage(System.out);
  }

  @Command(name = "list", mixinStandardHelpOptions = true,
      description = "Every tenant with its newest version, train and holdout loss, and examples seen.")
  static final class ListAdapters implements Callable<Integer> {
    @Mixin
    KafkaOptions kafka = new KafkaOptions();

    @Override
    public Integer call() {
      Map<String, AdapterSnapshot> latest = latestSnapshots(kafka.settings(), kafka.topics());
      System.out.printf("%-24s %8s %10s %10s %12s  %s%n", "TENANT", "VERSION", "LOSS", "HOLDOUT", "EXAMPLES",
          "CREATED");
      for (AdapterSnapshot s : latest.values()) {
        System.out.printf("%-24s %8d %10s %10s %12d  %s%n", s.getTenant(), s.getVersion(), format(s.getTrainLoss()),
            format(s.getHoldoutLoss()), s.getExamplesSeen(), s.getCreatedAt());
      }
      return 0;
    }

    private static String format(Float f) {
      return f == null ? "-" : String.format("%.4f", f);
    }
  }

  @Command(name = "show", mixinStandardHelpOptions = true,
      description = "The newest snapshot's metadata of one tenant, as JSON (without the weights).")
  static final class Show implements Callable<Integer> {
    @Mixin
    KafkaOptions kafka = new KafkaOptions();

    @Parameters(paramLabel = "TENANT")
    String tenant;

    @Override
    public Integer call() throws IOException {
      AdapterSnapshot s = newest(kafka.settings(), kafka.topics(), tenant);
      System.out.println(JSON.writerWithDefaultPrettyPrinter().writeValueAsString(describe(s)));
      return 0;
    }
  }

  @Command(name = "export", mixinStandardHelpOptions = true,
      description = "Write a tenant's newest adapter as a PEFT folder (adapter_config.json, adapter_model.safetensors).")
  static final class Export implements Callable<Integer> {
    @Mixin
    KafkaOptions kafka = new KafkaOptions();

    @Parameters(paramLabel = "TENANT")
    String tenant;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Folder to write (created if missing).")
    Path out;

    @Option(names = "--base-model-name", defaultValue = "lorastream-tiny",
        description = "base_model_name_or_path written to adapter_config.json (default: ${DEFAULT-VALUE}).")
    String baseModelName;

    @Option(names = "--merged",
        description = "Write the base model with the adapter merged in (W + s·B·A): a Hugging Face model folder "
            + "(config.json, model.safetensors, tokenizer.json) that computes the tenant's model without an adapter.")
    boolean merged;

    @Mixin
    BaseModelOption baseModel = new BaseModelOption();

    @Override
    public Integer call() throws IOException {
      AdapterSnapshot s = newest(kafka.settings(), kafka.topics(), tenant);
      LoraConfig config = new LoraConfig(s.getRank(), s.getAlpha(), List.copyOf(s.getTargetModules()), 0f,
          s.getUseRslora(), s.getLayersToTransform() == null ? null : List.copyOf(s.getLayersToTransform()));
      if (merged) {
        return writeMerged(s, config);
      }
      Files.createDirectories(out);
      Files.writeString(out.resolve("adapter_config.json"), config.toPeftAdapterConfigJson(baseModelName));
      Files.write(out.resolve("adapter_model.safetensors"), Bytes.of(s.getWeights()));
      System.out.println("tenant " + s.getTenant() + " v" + s.getVersion() + " written to " + out
          + " (weights sha256 " + s.getWeightsSha256() + ")");
      return 0;
    }

    private int writeMerged(AdapterSnapshot s, LoraConfig config) {
      // The sums are taken in F32 from the checkpoint's values, whatever precision serving uses.
      try (BaseModel base = BaseModel.load(baseModel.resolve(), BaseModel.configuredDevice(), Precision.F32)) {
        if (!base.weightsSha256().equals(s.getBaseModelSha256())) {
          throw new IllegalArgumentException("tenant " + s.getTenant() + " v" + s.getVersion()
              + " was trained on base model " + s.getBaseModelSha256() + ", not on " + base.directory() + " ("
              + base.weightsSha256() + "); pass its folder with --base-model");
        }
        try (LoraAdapter adapter = LoraAdapter.fromPeftSafetensors(Bytes.of(s.getWeights()), config, base)) {
          adapter.mergeInto(base, out);
        }
      }
      System.out.println("tenant " + s.getTenant() + " v" + s.getVersion() + " merged into " + out
          + " (a Hugging Face model folder; weights sha256 of the adapter " + s.getWeightsSha256() + ")");
      return 0;
    }
  }

  @Command(name = "import", mixinStandardHelpOptions = true,
      description = "Start a tenant from a PEFT adapter folder: the trainer that owns the tenant publishes it as "
          + "the next version and continues training from it with a fresh optimizer.")
  static final class Import implements Callable<Integer> {
    @Mixin
    KafkaOptions kafka = new KafkaOptions();

    @Parameters(paramLabel = "TENANT")
    String tenant;

    @Option(names = "--from", required = true, paramLabel = "DIR",
        description = "PEFT folder with adapter_config.json and adapter_model.safetensors.")
    Path from;

    @Override
    public Integer call() throws IOException {
      String config = Files.readString(from.resolve("adapter_config.json"), StandardCharsets.UTF_8);
      AdapterControls.importableConfig(config); // refuse here what the trainer would refuse
      byte[] weights = Files.readAllBytes(from.resolve("adapter_model.safetensors"));
      return send(kafka, AdapterControls.importAdapter(tenant, config, weights));
    }
  }

  @Command(name = "rollback", mixinStandardHelpOptions = true,
      description = "Republish an earlier version's weights as the next version; training continues from them. "
          + "The trainer keeps the newest few versions of each tenant (5 by default).")
  static final class Rollback implements Callable<Integer> {
    @Mixin
    KafkaOptions kafka = new KafkaOptions();

    @Parameters(paramLabel = "TENANT")
    String tenant;

    @Option(names = "--to", required = true, paramLabel = "VERSION", description = "The version to return to.")
    long version;

    @Override
    public Integer call() {
      return send(kafka, AdapterControls.rollback(tenant, version));
    }
  }

  private static int send(KafkaOptions kafka, AdapterControl control) {
    KafkaSettings settings = kafka.settings();
    Topics topics = kafka.topics();
    TopicAdmin.ensureTopics(settings, topics);
    RecordMetadata sent = AdapterControls.send(settings, topics, control);
    System.out.println(control.getAction().name().toLowerCase() + " of tenant " + control.getTenant()
        + " requested (request " + control.getRequestId() + ", " + sent.topic() + "-" + sent.partition() + "@"
        + sent.offset() + "); the owning trainer publishes the next version, or sends the request to the DLQ with "
        + "the reason it cannot apply it");
    return 0;
  }

  static AdapterSnapshot newest(KafkaSettings kafka, Topics topics, String tenant) {
    TenantId.require(tenant);
    AdapterSnapshot s = latestSnapshots(kafka, topics).get(tenant);
    if (s == null) {
      throw new IllegalArgumentException("no adapter published for tenant " + tenant);
    }
    return s;
  }

  /** The adapters topic read to its end: the newest snapshot per tenant (tombstones remove one), by tenant. */
  static Map<String, AdapterSnapshot> latestSnapshots(KafkaSettings kafka, Topics topics) {
    String topic = topics.adapters().name();
    Map<String, AdapterSnapshot> latest = new TreeMap<>();
    try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(kafka.consumer("lorastream-adapters-cli-"
        + UUID.randomUUID()), new StringDeserializer(), new ByteArrayDeserializer())) {
      List<TopicPartition> partitions = consumer.partitionsFor(topic, READ_TIMEOUT).stream()
          .map(p -> new TopicPartition(topic, p.partition())).toList();
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      Map<TopicPartition, Long> end = consumer.endOffsets(partitions, READ_TIMEOUT);
      long deadline = System.nanoTime() + READ_TIMEOUT.toNanos();
      while (partitions.stream().anyMatch(p -> consumer.position(p) < end.get(p))) {
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("could not read " + topic + " to its end within " + READ_TIMEOUT);
        }
        for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(200))) {
          if (record.value() == null) {
            latest.remove(record.key());
          } else {
            AdapterSnapshot s = AvroCodec.ADAPTER_SNAPSHOT.decode(record.value());
            latest.put(s.getTenant(), s);
          }
        }
      }
    }
    return latest;
  }

  static ObjectNode describe(AdapterSnapshot s) {
    return JSON.valueToTree(SnapshotFacts.of(s));
  }
}
