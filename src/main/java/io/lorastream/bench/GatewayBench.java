package io.lorastream.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.lorastream.avro.AdapterSnapshot;
import io.lorastream.contract.AvroCodec;
import io.lorastream.contract.Sha256;
import io.lorastream.gateway.ApiKeys;
import io.lorastream.gateway.Gateway;
import io.lorastream.gateway.GatewaySettings;
import io.lorastream.kafka.EmbeddedKafkaBroker;
import io.lorastream.kafka.KafkaSettings;
import io.lorastream.kafka.TopicAdmin;
import io.lorastream.kafka.Topics;
import io.lorastream.metrics.Metrics;
import io.lorastream.model.BaseModel;
import io.lorastream.model.Generator;
import io.lorastream.model.LoraAdapter;
import io.lorastream.model.LoraConfig;
import io.lorastream.model.TinyModelFactory;
import io.lorastream.model.TorchThreads;
import io.lorastream.train.TrainerSettings;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The gateway under load from a separate process ({@link LoadDriver}), each figure against a
 * baseline measured in the same run: many tenants vs one tenant, batched vs one request at a time,
 * HTTP latency vs the model's own time, and the cost of many registered tenants.
 *
 * <p>Every adapter has the trainer's default LoRA configuration ({@link #SERVED_LORA}: r 8 on all
 * seven projections of every layer), so the figures measure what the gateway serves, not PEFT's
 * q/v default.
 *
 * <p>The measured phases start after an unmeasured warm-up of the first side's load: a fresh
 * gateway's first seconds run cold (just-in-time compilation, each tenant's adapter used for the
 * first time), and without it the first measured phase, 64 tenants, paid for all of that while
 * its one-tenant baseline ran warm (0.3× then against 0.9× warm, in one and the same run). Each
 * comparison runs in one driver process that alternates its two sides three times (A B A B A B),
 * so that the driver's own start-up (it used more than a core for its first seconds) and a drift
 * of this shared machine's speed fall on both sides alike.
 *
 * <p>libtorch runs with the gateway command's default thread setting ({@code --torch-threads
 * auto}, one less than the cores), as a deployed gateway does. The batched phase also reports how
 * busy the model thread was and how its time split between prefills and decode steps
 * ({@code lorastream_gateway_engine_seconds}).
 */
public final class GatewayBench implements BenchSuite {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String KEY = "ls-bench-admin";
  private static final String PROMPT = "Question: How long do I have to return an item?\nAnswer:";
  private static final int MAX_TOKENS = 16;
  /** What tenants publish: the trainer's default adapters. */
  static final LoraConfig SERVED_LORA = TrainerSettings.DEFAULT_LORA;

  @Override
  public String name() {
    return "gateway";
  }

  @Override
  public List<Figure> run(boolean quick) throws Exception {
    double seconds = quick ? 6 : 20;
    double warmUpSeconds = quick ? 4 : 10;
    int rounds = 3; // each comparison alternates its sides: A B A B A B
    double phaseSeconds = seconds / 2;
    int manyTenants = quick ? 1_000 : 10_000;
    List<Figure> figures = new ArrayList<>();
    Path work = Files.createTempDirectory("lorastream-bench-gateway");
    int threadsBefore = -1;
    try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(work.resolve("kafka"), 0);
        BaseModel base = BaseModel.load(baseModel(work))) {
      // The gateway command's default (--torch-threads auto), as a deployed gateway runs.
      threadsBefore = TorchThreads.current();
      TorchThreads.use(TorchThreads.parse(TorchThreads.AUTO));
      KafkaSettings kafka = broker.settings();
      Topics topics = new Topics("bench.");
      TopicAdmin.ensureTopics(kafka, topics);
      List<String> tenants = IntStream.range(0, 64).mapToObj(i -> "t" + i).toList();
      publish(kafka, topics, base, tenants);

      Metrics batchedMetrics = Metrics.create();
      try (Gateway batched = start(base, kafka, topics, work.resolve("a"), 64, 256L << 20, batchedMetrics)) {
        String url = "http://127.0.0.1:" + batched.port();
        long batchedEngine = EngineTime.engineThread(); // before the second gateway starts its own
        JsonNode tenantsRun = drive(warmUpSeconds, MAX_TOKENS, alternate(rounds,
            new LoadDriver.Phase("many", url, 64, phaseSeconds, tenants),
            new LoadDriver.Phase("one", url, 64, phaseSeconds, List.of("t0"))));
        JsonNode many = tenantsRun.get("many");
        JsonNode one = tenantsRun.get("one");
        figures.add(Figure.against("throughput_64_tenants_vs_1_tenant", tokensPerSecond(many),
            tokensPerSecond(one), "tokens/s",
            "64 concurrent clients, each its own tenant, vs 64 clients on one tenant; " + MAX_TOKENS
                + " tokens each; " + sides(rounds, phaseSeconds) + "; " + driverCpu(many, one))
            .withAim(">= 0.8"));

        try (Gateway sequential = start(base, kafka, topics, work.resolve("b"), 1, 256L << 20, Metrics.create());
            EngineTimeline timeline = EngineTimeline.start(batchedMetrics, batchedEngine)) {
          List<String> tenants32 = tenants.subList(0, 32);
          JsonNode batchRun = drive(warmUpSeconds, MAX_TOKENS, alternate(rounds,
              new LoadDriver.Phase("batched", url, 32, phaseSeconds, tenants32),
              new LoadDriver.Phase("sequential", "http://127.0.0.1:" + sequential.port(), 32, phaseSeconds,
                  tenants32)));
          JsonNode batch32 = batchRun.get("batched");
          JsonNode seq32 = batchRun.get("sequential");
          figures.add(Figure.against("batched_vs_one_at_a_time_32_concurrent", tokensPerSecond(batch32),
              tokensPerSecond(seq32), "tokens/s",
              "32 clients over 32 tenants; baseline: the same gateway decoding one request at a time; "
                  + sides(rounds, phaseSeconds) + "; " + driverCpu(batch32, seq32))
              .withAim(">= 3x"));
          figures.add(timeline.within(batch32.get("windows_epoch_ms")).figure(
              "engine_busy_share_batched_32_concurrent", batch32.get("elapsed_s").asDouble()));
          figures.add(Figure.of("latency_p50_batched_32_concurrent", batch32.get("p50_ms").asDouble(), "ms",
              "p99 " + round(batch32.get("p99_ms").asDouble()) + " ms; one-at-a-time p50 "
                  + round(seq32.get("p50_ms").asDouble()) + " ms"));
        }

        JsonNode single = drive(warmUpSeconds / 2, 1,
            List.of(new LoadDriver.Phase("single", url, 1, seconds, List.of("t1")))).get("single");
        double modelMs = modelOnlyMillis(base, quick);
        double httpMs = single.get("p50_ms").asDouble();
        figures.add(Figure.against("overhead_p50_1_token_completion", httpMs - modelMs, modelMs, "ms",
            "p50 of a 1-token completion over HTTP (" + round(httpMs) + " ms) minus the model's own p50 for the "
                + "same prompt and adapter in process; baseline = the model's time").withAim("<= 5 ms"));
      }

      figures.addAll(manyTenants(base, kafka, work, manyTenants));
    } finally {
      if (threadsBefore > 0) {
        TorchThreads.use(threadsBefore);
      }
      deleteQuietly(work);
    }
    return figures;
  }

  private static Path baseModel(Path work) {
    Path shipped = Path.of("models", "lorastream-tiny");
    if (Files.isRegularFile(shipped.resolve("config.json"))) {
      return shipped;
    }
    Path made = work.resolve("tiny");
    TinyModelFactory.create(made, 42);
    return made;
  }

  private static Gateway start(BaseModel base, KafkaSettings kafka, Topics topics, Path adapters, int rows,
      long memory, Metrics metrics) throws InterruptedException {
    GatewaySettings settings = new GatewaySettings("127.0.0.1", 0, 1 << 20, 8192, 256, 16, 4096, rows,
        1e9, 1_000_000, adapters, memory, 2);
    Gateway gateway = Gateway.start(base, kafka, topics, settings,
        ApiKeys.of(List.of(ApiKeys.entry("bench", null, KEY))), metrics);
    if (!gateway.awaitReady(Duration.ofMinutes(5))) {
      throw new IllegalStateException("gateway did not catch up");
    }
    return gateway;
  }

  /** Seeded adapters as initialised (B = 0): applying one costs a row the same as a trained one. */
  private static void publish(KafkaSettings kafka, Topics topics, BaseModel base, List<String> tenants)
      throws Exception {
    LoraConfig lora = SERVED_LORA;
    // Not idempotent: on a topic just created the broker can refuse the first sends while it
    // becomes leader, and the idempotent producer then got stuck on OUT_OF_ORDER_SEQUENCE_NUMBER.
    // One in flight keeps the order; each tenant has one record here anyway.
    java.util.Map<String, Object> config = new java.util.HashMap<>(kafka.producer());
    config.put("enable.idempotence", false);
    config.put("max.in.flight.requests.per.connection", 1);
    try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(config, new StringSerializer(),
        new ByteArraySerializer())) {
      for (int i = 0; i < tenants.size(); i++) {
        byte[] weights;
        try (LoraAdapter adapter = LoraAdapter.initialise(base, lora, i)) {
          weights = adapter.toPeftSafetensors();
        }
        AdapterSnapshot snapshot = AdapterSnapshot.newBuilder().setTenant(tenants.get(i)).setVersion(1)
            .setParentVersion(null).setBaseModelSha256(base.weightsSha256()).setRank(lora.rank())
            .setAlpha(lora.alpha()).setTargetModules(lora.targetModules()).setUseRslora(false)
            .setWeights(ByteBuffer.wrap(weights)).setWeightsSha256(Sha256.hex(weights)).setTrainedThrough(List.of())
            .setExamplesSeen(0).setCreatedAt(Instant.now()).build();
        producer.send(new ProducerRecord<>(topics.adapters().name(), tenants.get(i),
            AvroCodec.ADAPTER_SNAPSHOT.encode(snapshot)));
      }
      producer.flush();
    }
  }

  /**
   * Totals of the model thread's work items so far ({@code lorastream_gateway_engine_seconds}):
   * seconds and counts of prefills and of decode steps.
   */
  record EngineTime(double prefillSeconds, long prefills, double decodeSeconds, long steps, double cpuSeconds) {
    /** The metrics' totals, and the CPU time of the model thread {@code engineThread} (a thread id). */
    static EngineTime of(Metrics metrics, long engineThread) {
      double[] sums = new double[2];
      long[] counts = new long[2];
      for (var point : metrics.gatewayEngineSeconds.collect().getDataPoints()) {
        int i = "prefill".equals(point.getLabels().get("phase")) ? 0 : 1;
        sums[i] += point.getSum();
        counts[i] += point.getCount();
      }
      long cpuNanos = java.lang.management.ManagementFactory.getThreadMXBean().getThreadCpuTime(engineThread);
      return new EngineTime(sums[0], counts[0], sums[1], counts[1], Math.max(0, cpuNanos) / 1e9);
    }

    /** The id of the one running thread named as the model thread ({@code lorastream-inference}). */
    static long engineThread() {
      List<Thread> engines = Thread.getAllStackTraces().keySet().stream()
          .filter(t -> t.getName().equals("lorastream-inference")).toList();
      if (engines.size() != 1) {
        throw new IllegalStateException("expected one model thread, found " + engines.size());
      }
      return engines.get(0).getId();
    }

    EngineTime plus(EngineTime other) {
      return new EngineTime(prefillSeconds + other.prefillSeconds, prefills + other.prefills,
          decodeSeconds + other.decodeSeconds, steps + other.steps, cpuSeconds + other.cpuSeconds);
    }

    EngineTime minus(EngineTime earlier) {
      return new EngineTime(prefillSeconds - earlier.prefillSeconds, prefills - earlier.prefills,
          decodeSeconds - earlier.decodeSeconds, steps - earlier.steps, cpuSeconds - earlier.cpuSeconds);
    }

    /** The share of {@code elapsedSeconds} the model thread spent in prefills and decode steps. */
    Figure figure(String metric, double elapsedSeconds) {
      return Figure.of(metric, (prefillSeconds + decodeSeconds) / elapsedSeconds, "share of wall time",
          String.format(java.util.Locale.ROOT, "model thread over the load's %.1f s: prefill %.0f%% (%d, mean %.2f ms), "
              + "decode %.0f%% (%d steps, mean %.2f ms); the rest it waited for requests; it was on a core for "
              + "%.0f%% of its busy time (CPU time over wall time; the rest it waited for a core)",
              elapsedSeconds, 100 * prefillSeconds / elapsedSeconds, prefills, 1000 * prefillSeconds / Math.max(1, prefills),
              100 * decodeSeconds / elapsedSeconds, steps, 1000 * decodeSeconds / Math.max(1, steps),
              100 * cpuSeconds / Math.max(1e-9, prefillSeconds + decodeSeconds)));
    }
  }

  /**
   * {@link EngineTime} sampled every 20 ms, so that what the model thread did within the load
   * driver's windows of one side of a comparison can be told from the other side's, the warm-up and
   * the pauses between phases.
   */
  static final class EngineTimeline implements AutoCloseable {
    private final Metrics metrics;
    private final long engineThread;
    private final List<Long> times = new ArrayList<>(); // epoch ms of each sample
    private final List<EngineTime> totals = new ArrayList<>();
    private final java.util.concurrent.ScheduledExecutorService sampler =
        java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
          Thread t = new Thread(r, "bench-engine-timeline");
          t.setDaemon(true);
          return t;
        });

    EngineTimeline(Metrics metrics, long engineThread) { // not sampling until start()
      this.metrics = metrics;
      this.engineThread = engineThread;
    }

    /** Samples the gateway's metrics and the CPU time of its model thread (an id). */
    static EngineTimeline start(Metrics metrics, long engineThread) {
      EngineTimeline timeline = new EngineTimeline(metrics, engineThread);
      timeline.sample();
      timeline.sampler.scheduleAtFixedRate(timeline::sample, 20, 20, java.util.concurrent.TimeUnit.MILLISECONDS);
      return timeline;
    }

    private void sample() {
      record(System.currentTimeMillis(), EngineTime.of(metrics, engineThread));
    }

    synchronized void record(long epochMillis, EngineTime total) {
      times.add(epochMillis);
      totals.add(total);
    }

    /**
     * The work added within the windows ({@code [[start, end], ..]} in epoch ms): from the last
     * sample at or before each start to the first at or after its end.
     */
    EngineTime within(JsonNode windows) {
      sample();
      return recordedWithin(windows);
    }

    /** As {@link #within}, over the samples recorded so far. */
    synchronized EngineTime recordedWithin(JsonNode windows) {
      EngineTime sum = new EngineTime(0, 0, 0, 0, 0);
      for (JsonNode window : windows) {
        long start = window.get(0).asLong();
        long end = window.get(1).asLong();
        int from = 0;
        while (from + 1 < times.size() && times.get(from + 1) <= start) {
          from++;
        }
        int to = from;
        while (to + 1 < times.size() && times.get(to) < end) {
          to++;
        }
        sum = sum.plus(totals.get(to).minus(totals.get(from)));
      }
      return sum;
    }

    @Override
    public void close() {
      sampler.shutdownNow();
    }
  }

  /** Runs the load driver in its own JVM and returns its JSON summary, by phase name. */
  private static JsonNode drive(double warmUpSeconds, int maxTokens, List<LoadDriver.Phase> phases)
      throws IOException, InterruptedException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> command = new ArrayList<>(List.of(java, "-Xmx512m", "-XX:+UseSerialGC", "-cp",
        System.getProperty("java.class.path"), LoadDriver.class.getName(), KEY, Integer.toString(maxTokens), PROMPT,
        Double.toString(warmUpSeconds)));
    phases.forEach(p -> command.add(p.spec()));
    Process process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    if (process.waitFor() != 0) {
      throw new IllegalStateException("load driver failed: " + out);
    }
    JsonNode result = JSON.readTree(out.substring(out.lastIndexOf('\n') + 1)); // the last line
    result.fields().forEachRemaining(phase -> {
      if (phase.getValue().get("errors").asLong() > 0) {
        throw new IllegalStateException("load driver saw errors in " + phase.getKey() + ": " + phase.getValue());
      }
    });
    return result;
  }

  /** {@code a b a b ..}, {@code rounds} of each. */
  private static List<LoadDriver.Phase> alternate(int rounds, LoadDriver.Phase a, LoadDriver.Phase b) {
    List<LoadDriver.Phase> phases = new ArrayList<>();
    for (int i = 0; i < rounds; i++) {
      phases.add(a);
      phases.add(b);
    }
    return phases;
  }

  private static String sides(int rounds, double phaseSeconds) {
    return String.format(java.util.Locale.ROOT, "sides alternated, %d × %.0f s each, one driver process after a "
        + "warm-up", rounds, phaseSeconds);
  }

  private static String driverCpu(JsonNode a, JsonNode b) {
    return String.format(java.util.Locale.ROOT, "load driver used %.2f / %.2f cores",
        a.get("driver_cpu_cores").asDouble(), b.get("driver_cpu_cores").asDouble());
  }

  private static double tokensPerSecond(JsonNode result) {
    return result.get("completion_tokens").asDouble() / result.get("elapsed_s").asDouble();
  }

  /** p50 of generating 1 token for the load's prompt with a tenant's adapter, in this process. */
  private static double modelOnlyMillis(BaseModel base, boolean quick) {
    Generator generator = new Generator(base);
    List<Long> nanos = new ArrayList<>();
    try (LoraAdapter adapter = LoraAdapter.initialise(base, SERVED_LORA, 1)) {
      for (int i = 0; i < (quick ? 60 : 200); i++) {
        long start = System.nanoTime();
        generator.generate(PROMPT, adapter, 1);
        if (i >= 10) {
          nanos.add(System.nanoTime() - start);
        }
      }
    }
    Collections.sort(nanos);
    return LoadDriver.percentile(nanos, 0.5);
  }

  /**
   * Registers many tenants with a small memory budget (so most adapters live on disk) and measures
   * what one more registered tenant costs and how long a cold load takes. The cost is a slope:
   * heap and resident memory after a full GC with half the tenants registered, then with all of
   * them, divided by the difference, so the gateway's fixed costs (threads, buffers, JIT) cancel
   * out. Heap is the JVM's used heap; resident is the process's RSS, which also holds native
   * tensors (bounded by the adapter memory budget, not by the tenant count) and the allocator's
   * slack. Both are noisy at 1,000 tenants (GC and allocator timing); the full run's 10,000 give
   * a steadier slope.
   */
  private static List<Figure> manyTenants(BaseModel base, KafkaSettings kafka, Path work, int count)
      throws Exception {
    Topics topics = new Topics("bench-many.");
    TopicAdmin.ensureTopics(kafka, topics);
    List<String> tenants = IntStream.range(0, count).mapToObj(i -> "m" + i).toList();
    int half = count / 2;
    publish(kafka, topics, base, tenants.subList(0, half));
    long started = System.nanoTime();
    try (Gateway gateway = start(base, kafka, topics, work.resolve("many"), 32, 8L << 20, Metrics.create())) {
      awaitRegistered(gateway, half);
      double catchUpSeconds = (System.nanoTime() - started) / 1e9;
      Memory atHalf = Memory.afterGc();
      publish(kafka, topics, base, tenants.subList(half, count));
      awaitRegistered(gateway, count);
      Memory atAll = Memory.afterGc();
      int added = count - half;
      double heapPerTenant = (double) (atAll.heapUsed - atHalf.heapUsed) / added;
      double residentPerTenant = (double) (atAll.resident - atHalf.resident) / added;
      Path dir = work.resolve("many");
      List<Path> files;
      try (var listing = Files.list(dir)) {
        files = listing.filter(p -> p.toString().endsWith(".safetensors")).collect(Collectors.toList());
      }
      SplittableRandom random = new SplittableRandom(7);
      List<Long> nanos = new ArrayList<>();
      for (int i = 0; i < 210; i++) {
        Path file = files.get(random.nextInt(files.size()));
        long t0 = System.nanoTime();
        try (LoraAdapter adapter = LoraAdapter.fromPeftSafetensors(Files.readAllBytes(file), SERVED_LORA, base)) {
          if (i >= 10) {
            nanos.add(System.nanoTime() - t0);
          }
        }
      }
      Collections.sort(nanos);
      long diskBytes = files.stream().mapToLong(p -> p.toFile().length()).sum();
      return List.of(
          Figure.of("registered_tenants", count, "tenants",
              "caught up with the first " + half + " snapshots in " + round(catchUpSeconds)
                  + " s; memory budget 8 MiB"),
          Figure.of("heap_bytes_per_registered_tenant", heapPerTenant, "bytes",
              "used heap after GC, " + half + " -> " + count + " tenants, per added tenant"),
          Figure.of("resident_bytes_per_registered_tenant", residentPerTenant, "bytes",
              "process RSS after GC, " + half + " -> " + count + " tenants, per added tenant"),
          Figure.of("disk_bytes_per_adapter", (double) diskBytes / files.size(), "bytes",
              "PEFT safetensors on disk, " + SERVED_LORA.rank() + "-rank all-linear"),
          Figure.of("cold_load_p99", LoadDriver.percentile(nanos, 0.99), "ms",
              "read from local disk + load into tensors, 200 random tenants; p50 "
                  + round(LoadDriver.percentile(nanos, 0.5)) + " ms").withAim("<= 50 ms"));
    }
  }

  /** Waits until the gateway serves {@code count} tenants. */
  private static void awaitRegistered(Gateway gateway, int count) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofMinutes(10).toNanos();
    while (gateway.store().all().size() < count) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("the gateway did not register " + count + " tenants");
      }
      Thread.sleep(100);
    }
  }

  /** Used and committed heap and resident set size, after a full GC. */
  private record Memory(long heapUsed, long resident) {
    static Memory afterGc() throws IOException, InterruptedException {
      Thread.sleep(2_000); // lets the follower's fetched records go before collecting
      for (int i = 0; i < 3; i++) {
        System.gc();
        Thread.sleep(100);
      }
      Runtime runtime = Runtime.getRuntime();
      return new Memory(runtime.totalMemory() - runtime.freeMemory(), residentBytes());
    }
  }

  private static long residentBytes() throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
      }
    }
    return 0;
  }

  private static double round(double v) {
    return Math.round(v * 10) / 10.0;
  }

  private static void deleteQuietly(Path dir) {
    try (var walk = Files.walk(dir)) {
      walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // temporary files; the OS cleans up eventually
    }
  }
}
