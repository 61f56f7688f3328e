package io.lorastream.bench;

import io.lorastream.avro.AdapterCheckpoint;
import io.lorastream.avro.AdapterSnapshot;
import io.lorastream.chart.LineChart;
import io.lorastream.chart.Series;
import io.lorastream.contract.AvroCodec;
import io.lorastream.contract.Sha256;
import io.lorastream.kafka.EmbeddedKafkaBroker;
import io.lorastream.kafka.KafkaSettings;
import io.lorastream.kafka.TopicAdmin;
import io.lorastream.kafka.Topics;
import io.lorastream.model.BaseModel;
import io.lorastream.model.Completion;
import io.lorastream.model.Generator;
import io.lorastream.model.LlamaConfig;
import io.lorastream.model.LoraAdapter;
import io.lorastream.model.LoraConfig;
import io.lorastream.model.LoraTrainer;
import io.lorastream.model.TinyModelFactory;
import io.lorastream.model.TrainingPair;
import io.lorastream.model.TrainingSettings;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * How costs grow with the number of tenants (10 → 1,000 with {@code --quick}, → 10,000 in full)
 * on lorastream-tiny, and with the size of the base model (tiny → a 100M-parameter Llama shape
 * with random weights). Per tenant count: resident memory per adapter, time and bytes to publish
 * snapshots and checkpoints to Kafka, cold load of an adapter from local disk among that many,
 * and training throughput when every step trains another tenant. Per model: load time, one
 * training step and decode time per token. Tables in the report, charts on a log x axis.
 */
public final class ScalingBench implements BenchSuite {
  /** About 100M parameters: 16k vocab (embeddings and head 12.3M each), 12 layers of dim 768. */
  static final LlamaConfig LLAMA_100M = new LlamaConfig(16_000, 768, 2048, 12, 12, 4, 1e-5, 10000.0, 512, false, 1, 2);
  private static final int COLD_LOADS = 200;
  private static final int BATCH = 8;

  @Override
  public String name() {
    return "scaling";
  }

  @Override
  public List<Figure> run(boolean quick) throws Exception {
    return ScratchFolder.figuresOnly(this, quick);
  }

  @Override
  public BenchResult run(BenchOptions options) throws Exception {
    boolean quick = options.quick();
    int[] counts = quick ? new int[] {10, 100, 1000} : new int[] {10, 100, 1000, 10_000};
    Path work = Files.createTempDirectory("lorastream-bench-scaling");
    BenchResult result = new BenchResult();
    try {
      Path tinyDir = tinyModel(work);
      try (BaseModel base = BaseModel.load(tinyDir)) {
        tenantSweep(result, base, work, counts, quick);
      }
      modelSweep(result, tinyDir, work, quick);
    } finally {
      ScratchFolder.delete(work);
    }
    return result;
  }

  private static Path tinyModel(Path work) {
    Path shipped = Path.of("models", "lorastream-tiny");
    if (Files.isRegularFile(shipped.resolve("config.json"))) {
      return shipped;
    }
    Path made = work.resolve("tiny");
    TinyModelFactory.create(made, 42);
    return made;
  }

  // ---- tenants -------------------------------------------------------------------------------

  private record TenantRow(int tenants, double residentPerAdapter, double publishMsPerSnapshot,
      double snapshotBytes, double checkpointMsPerTenant, double checkpointBytes, double coldP50Ms,
      double coldP99Ms, double trainTokensPerS) {}

  private void tenantSweep(BenchResult result, BaseModel base, Path work, int[] counts, boolean quick)
      throws Exception {
    LoraConfig lora = LoraConfig.defaults();
    TrainerWorkload workload = new TrainerWorkload(5);
    byte[] optimizerState;
    try (LoraAdapter a = LoraAdapter.initialise(base, lora, 1);
        LoraTrainer t = new LoraTrainer(base, a, TrainingSettings.defaults())) {
      t.step(workload.batch(0, 0, 2));
      optimizerState = t.optimizerStateSafetensors();
    }
    List<TenantRow> rows = new ArrayList<>();
    List<LoraAdapter> held = new ArrayList<>();
    try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(work.resolve("kafka"), 0)) {
      KafkaSettings kafka = broker.settings();
      for (int n : counts) {
        Topics topics = new Topics("scaling-" + n + ".");
        TopicAdmin.ensureTopics(kafka, topics);
        List<byte[]> weights = new ArrayList<>();
        for (int t = 0; t < n; t++) {
          try (LoraAdapter trained = LoraAdapter.initialise(base, lora, 10_000 + t)) {
            weights.add(trained.toPeftSafetensors());
          }
        }
        long rssBefore = residentBytes();
        List<LoraAdapter> adapters = new ArrayList<>();
        for (byte[] w : weights) {
          // Loaded from bytes, as the gateway holds adapters: every page is written, hence resident.
          adapters.add(LoraAdapter.fromPeftSafetensors(w, lora, base));
        }
        double residentPerAdapter = (residentBytes() - rssBefore) / (double) n;
        // Kept open to the end: memory freed here would be reused by the next count's adapters.
        held.addAll(adapters);
        double[] publish = publishSnapshots(kafka, topics, base, lora, weights);
        double[] checkpoint = publishCheckpoints(kafka, topics, base, lora, weights, optimizerState);
        double[] cold = coldLoads(base, lora, weights, work.resolve("adapters-" + n));
        weights.clear();
        double train = trainingThroughput(base, adapters, workload, quick ? 12 : 24);
        rows.add(new TenantRow(n, residentPerAdapter, publish[0], publish[1], checkpoint[0], checkpoint[1],
            cold[0], cold[1], train));
      }
    } finally {
      held.forEach(LoraAdapter::close);
    }
    MarkdownTable table = new MarkdownTable("Cost by number of tenants (lorastream-tiny, LoRA r8 q/v)", "tenants",
        "RSS per adapter held (B)", "snapshot publish (ms/tenant)", "snapshot (B)", "checkpoint publish (ms/tenant)",
        "checkpoint (B)", "cold load p50 / p99 (ms)", "training (tokens/s, every step another tenant)");
    Series rss = new Series("RSS per adapter (KB)");
    Series snap = new Series("snapshot publish (ms/tenant)");
    Series ckpt = new Series("checkpoint publish (ms/tenant)");
    Series coldP99 = new Series("cold load p99 (ms)");
    Series train = new Series("training tokens/s");
    for (TenantRow r : rows) {
      table.row(r.tenants(), fmt(r.residentPerAdapter()), fmt(r.publishMsPerSnapshot()), fmt(r.snapshotBytes()),
          fmt(r.checkpointMsPerTenant()), fmt(r.checkpointBytes()), fmt(r.coldP50Ms()) + " / " + fmt(r.coldP99Ms()),
          fmt(r.trainTokensPerS()));
      rss.add(r.tenants(), r.residentPerAdapter() / 1024);
      snap.add(r.tenants(), r.publishMsPerSnapshot());
      ckpt.add(r.tenants(), r.checkpointMsPerTenant());
      coldP99.add(r.tenants(), r.coldP99Ms());
      train.add(r.tenants(), r.trainTokensPerS());
      String at = " with " + r.tenants() + " tenants";
      result.add(Figure.of("scaling_resident_bytes_per_adapter_" + r.tenants(), r.residentPerAdapter(), "bytes",
          "process RSS growth per adapter while " + r.tenants() + " adapters were loaded from PEFT bytes (as the "
              + "gateway holds them; earlier counts' adapters stay open so freed memory is not reused); tensors "
              + "alone (F32 A and B) are about the snapshot size, " + fmt(r.snapshotBytes()) + " B" + at));
      result.add(Figure.of("scaling_snapshot_publish_ms_per_tenant_" + r.tenants(), r.publishMsPerSnapshot(), "ms",
          "encode (PEFT safetensors + Avro) and produce one snapshot of " + fmt(r.snapshotBytes())
              + " B, all tenants in a row then flush, in-process broker" + at));
      result.add(Figure.of("scaling_checkpoint_publish_ms_per_tenant_" + r.tenants(), r.checkpointMsPerTenant(),
          "ms", "encode and produce one AdapterCheckpoint (weights + AdamW moments) of " + fmt(r.checkpointBytes())
              + " B" + at));
      result.add(Figure.of("scaling_cold_load_p99_ms_" + r.tenants(), r.coldP99Ms(), "ms",
          "read one of " + r.tenants() + " adapter files from local disk and load it into tensors, "
              + COLD_LOADS + " random picks; p50 " + fmt(r.coldP50Ms()) + " ms").withAim("<= 50 ms"));
      result.add(Figure.of("scaling_train_tokens_per_s_" + r.tenants(), r.trainTokensPerS(), "tokens/s",
          "LoraTrainer steps of " + BATCH + " examples, each step on another of " + r.tenants() + " tenants (its "
              + "adapter, a fresh AdamW state)"));
    }
    result.table(table);
    result.chart("scaling_memory", new LineChart("Resident memory per adapter", "tenants (log)", "KB")
        .add(rss).logX());
    result.chart("scaling_publish", new LineChart("Publishing to Kafka, per tenant", "tenants (log)", "ms")
        .add(snap).add(ckpt).logX());
    result.chart("scaling_cold_load", new LineChart("Gateway cold load from local disk, p99", "tenants (log)", "ms")
        .add(coldP99).logX());
    result.chart("scaling_training", new LineChart("Training throughput, each step another tenant",
        "tenants (log)", "tokens/s").add(train).logX());
  }

  /** Returns {ms per snapshot, bytes per snapshot}. */
  private static double[] publishSnapshots(KafkaSettings kafka, Topics topics, BaseModel base, LoraConfig lora,
      List<byte[]> weights) {
    long bytes = 0;
    try (KafkaProducer<String, byte[]> producer = producer(kafka)) {
      awaitLeaders(producer, topics.adapters().name());
      long started = System.nanoTime();
      for (int t = 0; t < weights.size(); t++) {
        byte[] w = weights.get(t);
        AdapterSnapshot snapshot = AdapterSnapshot.newBuilder().setTenant(ScenarioWorkload.tenant(t)).setVersion(1)
            .setParentVersion(null).setBaseModelSha256(base.weightsSha256()).setRank(lora.rank())
            .setAlpha(lora.alpha()).setTargetModules(lora.targetModules()).setUseRslora(false)
            .setWeights(ByteBuffer.wrap(w)).setWeightsSha256(Sha256.hex(w)).setTrainedThrough(List.of())
            .setExamplesSeen(0).setCreatedAt(Instant.now()).build();
        byte[] value = AvroCodec.ADAPTER_SNAPSHOT.encode(snapshot);
        bytes += value.length;
        producer.send(new ProducerRecord<>(topics.adapters().name(), snapshot.getTenant(), value));
      }
      producer.flush();
      double ms = (System.nanoTime() - started) / 1e6;
      return new double[] {ms / weights.size(), bytes / (double) weights.size()};
    }
  }

  /** Returns {ms per checkpoint, bytes per checkpoint}. */
  private static double[] publishCheckpoints(KafkaSettings kafka, Topics topics, BaseModel base, LoraConfig lora,
      List<byte[]> weights, byte[] optimizerState) {
    long bytes = 0;
    try (KafkaProducer<String, byte[]> producer = producer(kafka)) {
      awaitLeaders(producer, topics.checkpoints().name());
      long started = System.nanoTime();
      for (int t = 0; t < weights.size(); t++) {
        AdapterCheckpoint checkpoint = AdapterCheckpoint.newBuilder().setTenant(ScenarioWorkload.tenant(t))
            .setStep(1).setBaseModelSha256(base.weightsSha256()).setRank(lora.rank()).setAlpha(lora.alpha())
            .setTargetModules(lora.targetModules()).setWeights(ByteBuffer.wrap(weights.get(t)))
            .setOptimizerState(ByteBuffer.wrap(optimizerState)).setRngState(t).setTrainedThrough(List.of())
            .setExamplesSeen(8).setCreatedAt(Instant.now()).build();
        byte[] value = AvroCodec.ADAPTER_CHECKPOINT.encode(checkpoint);
        bytes += value.length;
        producer.send(new ProducerRecord<>(topics.checkpoints().name(), checkpoint.getTenant(), value));
      }
      producer.flush();
      double ms = (System.nanoTime() - started) / 1e6;
      return new double[] {ms / weights.size(), bytes / (double) weights.size()};
    }
  }

  /**
   * Sends a tombstone to every partition of a new topic and waits for them: until its partitions
   * have leaders, sends are retried, and that wait is not a cost of publishing.
   */
  private static void awaitLeaders(KafkaProducer<String, byte[]> producer, String topic) {
    int partitions = producer.partitionsFor(topic).size();
    for (int p = 0; p < partitions; p++) {
      producer.send(new ProducerRecord<>(topic, p, "scaling-warm-up", null));
    }
    producer.flush();
  }

  private static KafkaProducer<String, byte[]> producer(KafkaSettings kafka) {
    return new KafkaProducer<>(kafka.producer(), new StringSerializer(), new ByteArraySerializer());
  }

  /** Writes every adapter to {@code dir}, then loads random ones back; returns {p50 ms, p99 ms}. */
  private static double[] coldLoads(BaseModel base, LoraConfig lora, List<byte[]> weights, Path dir)
      throws IOException {
    Files.createDirectories(dir);
    for (int t = 0; t < weights.size(); t++) {
      Files.write(dir.resolve(t + ".safetensors"), weights.get(t));
    }
    SplittableRandom random = new SplittableRandom(7);
    double[] ms = new double[COLD_LOADS];
    for (int i = -10; i < COLD_LOADS; i++) {
      Path file = dir.resolve(random.nextInt(weights.size()) + ".safetensors");
      long started = System.nanoTime();
      try (LoraAdapter adapter = LoraAdapter.fromPeftSafetensors(Files.readAllBytes(file), lora, base)) {
        if (i >= 0) {
          ms[i] = (System.nanoTime() - started) / 1e6;
        }
      }
    }
    ScratchFolder.delete(dir);
    Arrays.sort(ms);
    return new double[] {E2eBench.percentile(ms, 0.5), E2eBench.percentile(ms, 0.99)};
  }

  /**
   * Tokens per second over {@code steps} steps, step k on tenant 7919·k mod n (7919 is prime, so
   * tenants are distinct while k < n), each with its adapter and a fresh AdamW state.
   */
  private static double trainingThroughput(BaseModel base, List<LoraAdapter> adapters, TrainerWorkload workload,
      int steps) {
    int n = adapters.size();
    long tokens = 0;
    long nanos = 0;
    for (int k = -2; k < steps; k++) {
      int t = (int) Math.floorMod(7919L * k, n);
      List<TrainingPair> batch = workload.batch(t, (k + 2L) * BATCH, BATCH);
      try (LoraTrainer trainer = new LoraTrainer(base, adapters.get(t), TrainingSettings.defaults())) {
        long started = System.nanoTime();
        trainer.step(batch);
        if (k >= 0) {
          nanos += System.nanoTime() - started;
          tokens += trainer.inputTokens(batch);
        }
      }
    }
    return tokens / (nanos / 1e9);
  }

  // ---- model size ----------------------------------------------------------------------------

  private record ModelRow(String name, long parameters, double loadS, double stepS, double decodeMsPerToken,
      double trainTokensPerS) {}

  private void modelSweep(BenchResult result, Path tinyDir, Path work, boolean quick) throws IOException {
    List<ModelRow> rows = new ArrayList<>();
    rows.add(measureModel("lorastream-tiny", tinyDir, quick));
    Path tokenizer = tinyDir.resolve("tokenizer.json");
    for (var shape : List.of(new Object[] {"llama512x8 (random)", ModelBench.LARGER},
        new Object[] {"llama768x12 (random, ~100M)", LLAMA_100M})) {
      Path dir = work.resolve("model-" + rows.size());
      ModelBench.writeRandomModel((LlamaConfig) shape[1], dir, tokenizer, 11);
      rows.add(measureModel((String) shape[0], dir, quick));
      ScratchFolder.delete(dir);
    }
    MarkdownTable table = new MarkdownTable("Cost by base model size (CPU, fp32, LoRA r8 q/v, batch " + BATCH + ")",
        "model", "parameters", "load (s)", "training step (s)", "training (tokens/s)", "generation (ms/token, batch 1, prefill included)");
    Series load = new Series("load (s)");
    Series step = new Series("training step (s)");
    Series decode = new Series("generation (ms per token / 100)");
    for (ModelRow r : rows) {
      table.row(r.name(), String.format(Locale.ROOT, "%,d", r.parameters()), fmt(r.loadS()), fmt(r.stepS()),
          fmt(r.trainTokensPerS()), fmt(r.decodeMsPerToken()));
      load.add(r.parameters(), r.loadS());
      step.add(r.parameters(), r.stepS());
      decode.add(r.parameters(), r.decodeMsPerToken() / 100);
      String key = r.name().replaceAll("[^a-z0-9]+", "_").replaceAll("_+$", "");
      result.add(Figure.of("scaling_model_load_s_" + key, r.loadS(), "s",
          r.parameters() + " parameters; BaseModel.load of a folder just written (page cache warm)"));
      result.add(Figure.of("scaling_model_train_step_s_" + key, r.stepS(), "s",
          "one LoraTrainer step of " + BATCH + " customer-service examples, median after a warm-up step; "
              + fmt(r.trainTokensPerS()) + " tokens/s"));
      result.add(Figure.of("scaling_model_decode_ms_per_token_" + key, r.decodeMsPerToken(), "ms",
          "greedy completion of up to 16 tokens with an adapter, batch 1: wall time per generated token, "
              + "prompt prefill (about 15 tokens) included; median of runs"));
    }
    result.table(table);
    result.chart("scaling_model_size", new LineChart("Cost by base model size", "parameters (log)", "seconds")
        .add(load).add(step).add(decode).logX());
  }

  private static ModelRow measureModel(String name, Path dir, boolean quick) {
    long started = System.nanoTime();
    try (BaseModel base = BaseModel.load(dir)) {
      double loadS = (System.nanoTime() - started) / 1e9;
      LlamaConfig c = base.config();
      long parameters = parameters(c);
      TrainerWorkload workload = new TrainerWorkload(9);
      int timed = quick ? 2 : 4;
      double[] stepS = new double[timed];
      long tokens = 0;
      try (LoraAdapter adapter = LoraAdapter.initialise(base, LoraConfig.defaults(), 3);
          LoraTrainer trainer = new LoraTrainer(base, adapter, TrainingSettings.defaults())) {
        for (int i = -1; i < timed; i++) {
          List<TrainingPair> batch = workload.batch(0, (i + 1L) * BATCH, BATCH);
          long t0 = System.nanoTime();
          trainer.step(batch);
          if (i >= 0) {
            stepS[i] = (System.nanoTime() - t0) / 1e9;
            tokens += trainer.inputTokens(batch);
          }
        }
        double tokensPerS = tokens / Arrays.stream(stepS).sum();
        Arrays.sort(stepS);
        Generator generator = new Generator(base);
        int[] prompt = base.tokenizer().encode(workload.pair(0, 99).prompt());
        double decodeMs = decodeMsPerToken(generator, adapter, prompt, quick ? 3 : 5);
        return new ModelRow(name, parameters, loadS, stepS[stepS.length / 2], decodeMs, tokensPerS);
      }
    }
  }

  /**
   * Median over {@code runs} of a 16-token greedy completion's time per generated token, prompt
   * prefill included (a difference with a 1-token run would isolate decoding, but on a shared
   * machine such differences came out negative).
   */
  private static double decodeMsPerToken(Generator generator, LoraAdapter adapter, int[] prompt, int runs) {
    generator.generate(prompt, adapter, 2); // warm-up
    double[] perToken = new double[runs];
    for (int r = 0; r < runs; r++) {
      long t0 = System.nanoTime();
      Completion completion = generator.generate(prompt, adapter, 16);
      perToken[r] = (System.nanoTime() - t0) / 1e6 / Math.max(1, completion.tokenIds().length);
    }
    Arrays.sort(perToken);
    return perToken[runs / 2];
  }

  /** Parameters of a Llama-family model from its shape (embeddings, layers, norms, head unless tied). */
  static long parameters(LlamaConfig c) {
    long d = c.hiddenSize();
    long kv = d / c.numAttentionHeads() * c.numKeyValueHeads();
    long layer = d * d * 2 + d * kv * 2 + 3L * d * c.intermediateSize() + 2 * d;
    long embed = (long) c.vocabSize() * d;
    return embed + c.numHiddenLayers() * layer + d + (c.tieWordEmbeddings() ? 0 : embed);
  }

  // ---- helpers ------------------------------------------------------------------------------

  private static String fmt(double v) {
    return BenchReport.format(v);
  }

  private static long residentBytes() {
    try {
      String[] fields = Files.readString(Path.of("/proc/self/statm")).trim().split("\\s+");
      return Long.parseLong(fields[1]) * 4096L;
    } catch (IOException | RuntimeException e) {
      return 0;
    }
  }

}
