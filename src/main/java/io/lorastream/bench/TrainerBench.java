package io.lorastream.bench;

import io.lorastream.avro.AdapterSnapshot;
import io.lorastream.contract.AvroCodec;
import io.lorastream.kafka.EmbeddedKafkaBroker;
import io.lorastream.kafka.KafkaSettings;
import io.lorastream.kafka.TopicAdmin;
import io.lorastream.kafka.Topics;
import io.lorastream.metrics.Metrics;
import io.lorastream.model.BaseModel;
import io.lorastream.model.FusedLoraTrainer;
import io.lorastream.model.LoraAdapter;
import io.lorastream.model.LoraConfig;
import io.lorastream.model.LoraTrainer;
import io.lorastream.model.TinyModelFactory;
import io.lorastream.model.TorchThreads;
import io.lorastream.model.TrainingPair;
import io.lorastream.model.TrainingSettings;
import io.lorastream.model.pretrain.GeneralExchanges;
import io.lorastream.train.ContinualTrainer;
import io.lorastream.train.TrainerSettings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The trainer's figures: fused against one-tenant-at-a-time steps, memory per tenant, and a
 * {@link ContinualTrainer} on a real in-process Kafka broker (throughput and freshness).
 */
public final class TrainerBench implements BenchSuite {
  private static final Logger log = LoggerFactory.getLogger(TrainerBench.class);
  /**
   * Warm-up of each fused-against-separate comparison before its timed rounds: with one warm-up
   * round only, the first comparison of a JVM ran before the JIT had compiled the Java around
   * each operation (0.69× against 1.16× for the same 4 tenants later in the same JVM).
   */
  static final Duration FUSED_WARM_UP = Duration.ofSeconds(5);
  static final Duration FUSED_WARM_UP_QUICK = Duration.ofMillis(1_500);
  /** Any fixed seed: the rehearsal rows' text, not which rows, is what costs. */
  private static final long REHEARSAL_POOL_SEED = 7;

  private final Path modelDir;

  public TrainerBench() {
    this(Path.of("models", "lorastream-tiny"));
  }

  TrainerBench(Path modelDir) {
    this.modelDir = modelDir;
  }

  @Override
  public String name() {
    return "trainer";
  }

  @Override
  public List<Figure> run(boolean quick) throws Exception {
    Path scratch = Files.createTempDirectory("lorastream-trainer-bench-");
    try (BaseModel base = loadBase(scratch)) {
      List<Figure> figures = new ArrayList<>();
      for (FusedCase fusedCase : List.of(FusedCase.FULL_BATCHES, FusedCase.STREAMING)) {
        for (int tenants : quick ? new int[] {4, 16} : new int[] {4, 16, 64}) {
          figures.addAll(fusedAgainstSeparate(base, fusedCase, tenants, fusedCase.rounds(quick),
              quick ? FUSED_WARM_UP_QUICK : FUSED_WARM_UP));
        }
      }
      figures.addAll(memoryPerTenant(base, quick ? new int[] {10, 100, 1000} : new int[] {10, 100, 1000, 10_000}));
      // The sustained phase as the trainer runs by default (one train thread) first, then with
      // one train thread per core for comparison; the later run has the warmer JVM, which favours
      // the comparison. Each on a broker of its own: the logs hold gigabytes.
      int threadsBefore = TorchThreads.current();
      try {
        TorchThreads.use(1); // several train threads each with libtorch's pool would wait on each other
        figures.addAll(continualTrainer(base, scratch.resolve("one"), quick, sustainedSettings()));
        ScratchFolder.delete(scratch.resolve("one"));
        TrainerSettings threads = sustainedSettings().withTrainThreads(COMPARED_TRAIN_THREADS);
        for (Figure f : continualTrainer(base, scratch.resolve("threads"), quick, threads)) {
          figures.add(new Figure(f.metric() + "_" + COMPARED_TRAIN_THREADS + "_train_threads", f.value(), f.unit(),
              f.baseline(), f.ratio(), "the same load with " + COMPARED_TRAIN_THREADS
                  + " train threads, run second (the warmer JVM); " + f.note()));
        }
      } finally {
        TorchThreads.use(threadsBefore);
      }
      return figures;
    } finally {
      ScratchFolder.delete(scratch);
    }
  }

  private BaseModel loadBase(Path scratch) {
    if (Files.isRegularFile(modelDir.resolve("model.safetensors"))) {
      return BaseModel.load(modelDir);
    }
    Path tiny = scratch.resolve("tiny");
    TinyModelFactory.create(tiny, 42);
    return BaseModel.load(tiny);
  }

  private static String modelName(BaseModel base) {
    return "base " + base.weightsSha256().substring(0, 12);
  }

  // ---- fused against separate steps ------------------------------------------------------

  /**
   * What each tenant's step holds in a fused-against-separate comparison.
   *
   * @param label how the figures' notes describe a tenant's step
   * @param examples the tenant's examples per step
   * @param rehearsalRows general exchanges added to each tenant step, as the trainer's rehearsal does
   * @param lora the adapters' LoRA settings
   * @param maxFusedExamples tenant examples per fused step at most (rehearsal rows not counted), as
   *     {@link TrainerSettings#maxFusedRows()}
   * @param suffix appended to the figures' names
   * @param rounds timed rounds in a full run (half of them, at least 2, with {@code --quick})
   */
  record FusedCase(String label, int examples, int rehearsalRows, LoraConfig lora, int maxFusedExamples,
      String suffix, int rounds) {
    /** Full micro-batches of 8 examples, q/v adapters, up to 64 examples a fused step. */
    static final FusedCase FULL_BATCHES = new FusedCase("8 examples, LoRA r8 q/v", 8, 0,
        LoraConfig.defaults(), 64, "", 8);
    /**
     * What the trainer steps when examples arrive one at a time: one example and its rehearsal
     * row per tenant, the trainer's default adapters (r8, all-linear) and fused-row cap (16).
     */
    static final FusedCase STREAMING = new FusedCase("1 example + 1 rehearsal row, LoRA r8 all-linear", 1, 1,
        TrainerSettings.DEFAULT_LORA, TrainerSettings.DEFAULT_MAX_FUSED_ROWS, "_1_example", 16);

    int rounds(boolean quick) {
      return quick ? Math.max(2, rounds / 2) : rounds;
    }
  }

  /**
   * Every tenant takes one step per round on its own micro-batch ({@code fusedCase}): all tenants'
   * steps fused (groups of at most {@code maxFusedExamples} examples, as the trainer makes them) or
   * each tenant's {@link LoraTrainer#step} in turn. Rounds alternate between the two ways, and which
   * goes first, after warm-up rounds of both for at least {@code warmUp}; time is the sum over the
   * timed rounds.
   */
  static List<Figure> fusedAgainstSeparate(BaseModel base, FusedCase fusedCase, int tenants, int rounds,
      Duration warmUp) {
    TrainerWorkload workload = new TrainerWorkload(7);
    List<TrainingPair> rehearsal = fusedCase.rehearsalRows() == 0 ? List.of()
        : GeneralExchanges.rehearsalPool(REHEARSAL_POOL_SEED, 512);
    List<LoraAdapter> adapters = new ArrayList<>();
    List<LoraTrainer> fused = new ArrayList<>();
    List<LoraTrainer> separate = new ArrayList<>();
    try {
      for (int t = 0; t < tenants; t++) {
        for (List<LoraTrainer> list : List.of(fused, separate)) {
          LoraAdapter adapter = LoraAdapter.initialise(base, fusedCase.lora(), 1000 + t);
          adapters.add(adapter);
          list.add(new LoraTrainer(base, adapter, TrainingSettings.defaults()));
        }
      }
      int examples = fusedCase.examples();
      long fusedNanos = 0;
      long separateNanos = 0;
      long tokens = 0;
      long warmUntil = System.nanoTime() + warmUp.toNanos();
      int warmUpRounds = 0;
      for (int round = -1; round < rounds; round++) {
        if (round == 0 && System.nanoTime() < warmUntil) {
          round = -1; // warm up once more
          warmUpRounds++;
        }
        long seen = (long) (round + 1 + warmUpRounds) * examples; // examples each tenant has had
        List<List<TrainingPair>> batches = new ArrayList<>();
        long roundTokens = 0;
        for (int t = 0; t < tenants; t++) {
          List<TrainingPair> batch = new ArrayList<>(workload.batch(t, seen, examples));
          for (int r = 0; r < fusedCase.rehearsalRows(); r++) {
            batch.add(rehearsal.get((int) ((seen * tenants + t + r) % rehearsal.size())));
          }
          batches.add(batch);
          roundTokens += tokens(base, batch);
        }
        long fusedRound = 0;
        long separateRound = 0;
        for (boolean fusedTurn : round % 2 == 0 ? new boolean[] {false, true} : new boolean[] {true, false}) {
          long started = System.nanoTime();
          if (fusedTurn) {
            fusedRound(fused, batches, examples, fusedCase.maxFusedExamples());
            fusedRound = System.nanoTime() - started;
          } else {
            for (int t = 0; t < tenants; t++) {
              separate.get(t).step(batches.get(t));
            }
            separateRound = System.nanoTime() - started;
          }
        }
        if (round >= 0) {
          fusedNanos += fusedRound;
          separateNanos += separateRound;
          tokens += roundTokens;
        }
      }
      double fusedRate = tokens / (fusedNanos / 1e9);
      double separateRate = tokens / (separateNanos / 1e9);
      String how = tenants + " tenants x " + fusedCase.label() + " (" + tokens / rounds / tenants
          + " tokens per tenant step, padding excluded), " + rounds + " timed rounds after "
          + (warmUpRounds + 1) + " warm-up rounds (at least " + warmUp.toMillis() + " ms), "
          + modelName(base) + "; ";
      String name = tenants + "_tenants" + fusedCase.suffix();
      return List.of(
          Figure.against("train_tokens_per_s_fused_" + name, fusedRate, separateRate, "tokens/s",
              how + "fused steps of at most " + fusedCase.maxFusedExamples() + " examples against one "
                  + "LoraTrainer.step per tenant (baseline); ratio = fused / separate, higher is better"),
          Figure.of("train_step_ms_fused_" + name, fusedNanos / 1e6 / rounds, "ms",
              how + "wall time of one round of fused steps (all tenants one step)"),
          Figure.of("train_step_ms_separate_" + name, separateNanos / 1e6 / rounds, "ms",
              how + "wall time of one round of separate steps (all tenants one step)"));
    } finally {
      fused.forEach(LoraTrainer::close);
      separate.forEach(LoraTrainer::close);
      adapters.forEach(LoraAdapter::close);
    }
  }

  /** One step of every tenant, fused in groups of at most {@code maxExamples} tenant examples. */
  private static void fusedRound(List<LoraTrainer> trainers, List<List<TrainingPair>> batches, int examples,
      int maxExamples) {
    List<FusedLoraTrainer.TenantBatch> group = new ArrayList<>();
    int groupExamples = 0;
    for (int t = 0; t < trainers.size(); t++) {
      if (groupExamples + examples > maxExamples && !group.isEmpty()) {
        FusedLoraTrainer.step(group);
        group = new ArrayList<>();
        groupExamples = 0;
      }
      group.add(new FusedLoraTrainer.TenantBatch(trainers.get(t), batches.get(t)));
      groupExamples += examples;
    }
    FusedLoraTrainer.step(group);
  }

  /** Tokens a step computes a loss over or conditions on: bos + prompt + completion + eos, padding excluded. */
  static long tokens(BaseModel base, List<TrainingPair> batch) {
    long sum = 0;
    int max = TrainingSettings.defaults().maxSequenceLength();
    for (TrainingPair p : batch) {
      int length = 2 + base.tokenizer().encode(p.prompt()).length + base.tokenizer().encode(p.completion()).length;
      sum += Math.min(max, length) - 1;
    }
    return sum;
  }

  // ---- memory per tenant -------------------------------------------------------------------

  /**
   * Tenants held as the trainer holds them (adapter and optimizer state, each with one step
   * taken so gradients exist), for growing tenant counts: serialized sizes per tenant, and the
   * growth of JVM heap (after GC) and process resident memory per added tenant.
   */
  static List<Figure> memoryPerTenant(BaseModel base, int[] counts) {
    List<Figure> figures = new ArrayList<>();
    TrainerWorkload workload = new TrainerWorkload(11);
    List<TrainingPair> batch = workload.batch(0, 0, 2);
    try (LoraAdapter adapter = LoraAdapter.initialise(base, LoraConfig.defaults(), 1);
        LoraTrainer trainer = new LoraTrainer(base, adapter, TrainingSettings.defaults())) {
      trainer.step(batch);
      int snapshot = adapter.toPeftSafetensors().length;
      int optimizer = trainer.optimizerStateSafetensors().length;
      String config = "LoRA r8 q/v (" + adapter.parameterCount() + " parameters), " + modelName(base);
      figures.add(Figure.of("tenant_snapshot_bytes", snapshot, "bytes",
          "PEFT adapter_model.safetensors of one tenant (F32), what a snapshot carries; " + config));
      figures.add(Figure.of("tenant_checkpoint_bytes", snapshot + optimizer, "bytes",
          "adapter weights + AdamW moments safetensors of one tenant, the bulk of a checkpoint (plus holdout "
              + "examples; each published version's " + snapshot + " bytes are written once more, as its own "
              + "kept-version record); " + config));
    }
    long heapBefore = usedHeapAfterGc();
    long rssBefore = residentBytes();
    int prior = 0;
    long heapPrior = heapBefore;
    long rssPrior = rssBefore;
    List<LoraAdapter> adapters = new ArrayList<>();
    List<LoraTrainer> trainers = new ArrayList<>();
    try {
      for (int count : counts) {
        long started = System.nanoTime();
        for (int t = prior; t < count; t++) {
          LoraAdapter adapter = LoraAdapter.initialise(base, LoraConfig.defaults(), 5000 + t);
          LoraTrainer trainer = new LoraTrainer(base, adapter, TrainingSettings.defaults());
          adapters.add(adapter);
          trainers.add(trainer);
        }
        double createMs = (System.nanoTime() - started) / 1e6;
        long heap = usedHeapAfterGc();
        long rss = residentBytes();
        int added = count - prior;
        String how = "growth from " + prior + " to " + count + " tenants (adapter + AdamW state, as the trainer holds "
            + "them, no step taken, so zero-filled pages may not be resident yet), per added tenant; noisy for small "
            + "steps; created in " + String.format("%.0f", createMs) + " ms";
        figures.add(Figure.of("tenant_heap_bytes_" + count, (heap - heapPrior) / (double) added, "bytes",
            how + "; JVM heap used after System.gc()"));
        if (rss > 0) {
          figures.add(Figure.of("tenant_resident_bytes_" + count, (rss - rssPrior) / (double) added, "bytes",
              how + "; process RSS (/proc/self/statm: heap, native tensors, allocator slack)"));
        }
        prior = count;
        heapPrior = heap;
        rssPrior = rss;
      }
      figures.add(Figure.of("tenant_tensor_bytes", tensorBytesPerTenant(adapters), "bytes",
          "native tensor bytes per tenant from shapes: F32 adapter A/B + two AdamW moments (excludes per-step "
              + "gradients and allocator overhead)"));
      figures.add(Figure.of("tenant_native_arrays_per_tenant", arraysPerTenant(adapters), "arrays",
          "NDArrays held per tenant by DJL managers (adapter A/B + AdamW moments)"));
    } finally {
      trainers.forEach(LoraTrainer::close);
      adapters.forEach(LoraAdapter::close);
    }
    return figures;
  }

  private static double tensorBytesPerTenant(List<LoraAdapter> adapters) {
    return adapters.isEmpty() ? 0 : 3.0 * 4 * adapters.get(0).parameterCount();
  }

  private static double arraysPerTenant(List<LoraAdapter> adapters) {
    if (adapters.isEmpty()) {
      return 0;
    }
    return adapters.get(0).manager().getManagedArrays().size() + 2.0 * adapters.get(0).parameters().size();
  }

  private static long usedHeapAfterGc() {
    Runtime runtime = Runtime.getRuntime();
    for (int i = 0; i < 3; i++) {
      System.gc();
    }
    return runtime.totalMemory() - runtime.freeMemory();
  }

  /** Resident set size from /proc/self/statm, or 0 where there is none. */
  private static long residentBytes() {
    try {
      String[] fields = Files.readString(Path.of("/proc/self/statm")).trim().split("\\s+");
      return Long.parseLong(fields[1]) * 4096L;
    } catch (IOException | RuntimeException e) {
      return 0;
    }
  }

  // ---- the continual trainer on Kafka --------------------------------------------------------

  /**
   * The trainer of the sustained phase: the defaults (one train thread) with an open quality
   * gate and micro-batches that wait at most {@link #SUSTAINED_BATCH_MAX_WAIT_MS} (the default
   * second alone would put the freshness median above its aim of 1 s).
   */
  static TrainerSettings sustainedSettings() {
    return TrainerSettings.defaults().withInstanceId("bench").withGroupId("bench-trainer")
        .withGate(TrainerSettings.Gate.open())
        .withBatching(TrainerSettings.defaults().batchSize(), Duration.ofMillis(SUSTAINED_BATCH_MAX_WAIT_MS));
  }

  static final long SUSTAINED_BATCH_MAX_WAIT_MS = 250;
  /** The comparison run's train threads: one per core of the 2-core machines the figures come from. */
  static final int COMPARED_TRAIN_THREADS = 2;

  /**
   * One {@link ContinualTrainer} with {@code settings} on an in-process broker, primed with each
   * tenant's first example; then a producer offers a fixed load round-robin over the tenants,
   * event time = send time; a read_committed consumer of the adapters topic in this process sees
   * each snapshot, and an example's freshness is the time from its event time to the first
   * snapshot of its tenant whose examplesSeen covers it.
   */
  List<Figure> continualTrainer(BaseModel base, Path scratch, boolean quick, TrainerSettings settings)
      throws Exception {
    // The aim's load: 50 examples/s over 100 tenants. A quick run is still short: the trainer
    // starts cold, and a backlog it builds is measured as freshness.
    return continualTrainer(base, scratch, quick, settings, 50);
  }

  /** As {@link #continualTrainer(BaseModel, Path, boolean, TrainerSettings)} at {@code offered} examples/s. */
  List<Figure> continualTrainer(BaseModel base, Path scratch, boolean quick, TrainerSettings settings, double offered)
      throws Exception {
    Files.createDirectories(scratch);
    int tenants = 100;
    // After priming, the trainer still built a backlog of up to 100-250 examples in its first 15-30
    // s at load (the JIT at work) and needed 30-60 s more to drain it: the window starts after the
    // warm-up's least time and once the backlog is down to a second of load, or after its most.
    long warmupMs = quick ? 30_000 : 60_000;
    long longestWarmupMs = quick ? 90_000 : 180_000;
    long drainedBacklog = Math.round(offered);
    long measureMs = quick ? 30_000 : 120_000;
    TrainerWorkload workload = new TrainerWorkload(3);
    try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(scratch.resolve("kafka"), 0)) {
      KafkaSettings kafka = broker.settings();
      Topics topics = new Topics("bench.");
      TopicAdmin.ensureTopics(kafka, topics);
      Metrics metrics = Metrics.create();
      // Event times per tenant, by example index (examples of a tenant train in order).
      Map<String, List<Long>> eventTimes = new HashMap<>();
      Map<String, Integer> covered = new HashMap<>();
      List<Long> freshness = new ArrayList<>();
      AtomicBoolean producing = new AtomicBoolean(true);
      // [measured from, measured to), set once the warm-up after priming is over (see warmupMs).
      long[] window = {Long.MAX_VALUE, Long.MAX_VALUE};
      long[] producedInWindow = {0};
      double[] warmedUp = {0, 0}; // seconds of warm-up, examples waiting when the window began
      Thread producer = new Thread(() -> {
        try (KafkaProducer<String, byte[]> p = new KafkaProducer<>(kafka.producer(), new StringSerializer(),
            new ByteArraySerializer())) {
          long sent = tenants; // each tenant's first example primed the trainer
          long t0 = System.nanoTime();
          while (producing.get()) {
            long due = t0 + (long) ((sent - tenants) * 1e9 / offered);
            long wait = due - System.nanoTime();
            if (wait > 0) {
              Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
            }
            int tenant = (int) (sent % tenants);
            long n = sent / tenants;
            long now = System.currentTimeMillis();
            var example = workload.example(tenant, n, Instant.ofEpochMilli(now));
            synchronized (eventTimes) {
              eventTimes.computeIfAbsent(example.getTenant(), k -> new ArrayList<>()).add(now);
              if (now >= window[0] && now < window[1]) {
                producedInWindow[0]++;
              }
            }
            p.send(new ProducerRecord<>(topics.cleanExamples().name(), example.getTenant(),
                AvroCodec.TRAINING_EXAMPLE.encode(example)));
            sent++;
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }, "bench-producer");
      double trainedAtFrom = 0;
      double trainedAtTo = 0;
      CycleTimes timesAtFrom = null;
      CycleTimes timesAtTo = null;
      try (ContinualTrainer trainer = new ContinualTrainer(base, kafka, topics, topics.cleanExamples().name(),
              settings, metrics);
          KafkaConsumer<String, byte[]> adapters = new KafkaConsumer<>(kafka.consumer("bench-" + UUID.randomUUID()),
              new StringDeserializer(), new ByteArrayDeserializer())) {
        adapters.subscribe(List.of(topics.adapters().name()));
        trainer.start();
        prime(kafka, topics, workload, tenants, eventTimes, adapters);
        long start = System.currentTimeMillis();
        long measureFrom = Long.MAX_VALUE;
        long measureTo = Long.MAX_VALUE;
        producer.start();
        boolean fromTaken = false;
        long nextProgress = start + 5_000;
        double trainedBefore = metrics.trainerExamples.labelValues("trained").get();
        while (System.currentTimeMillis() < measureTo) {
          long now = System.currentTimeMillis();
          long backlog = (long) metrics.trainerConsumerLag.get();
          if (measureFrom == Long.MAX_VALUE && now >= start + warmupMs
              && (backlog <= drainedBacklog || now >= start + longestWarmupMs)) {
            measureFrom = now;
            measureTo = now + measureMs;
            synchronized (eventTimes) {
              window[0] = measureFrom;
              window[1] = measureTo;
            }
            warmedUp[0] = (now - start) / 1e3;
            warmedUp[1] = backlog;
            log.info("sustained phase: measuring from {} s on, {} examples waiting", (now - start) / 1000, backlog);
          }
          if (System.currentTimeMillis() >= nextProgress) {
            double trainedNow = metrics.trainerExamples.labelValues("trained").get();
            log.info("sustained phase, {} s: {} examples/s trained in the last 5 s, {} examples read and not yet "
                    + "trained", (nextProgress - start) / 1000, (trainedNow - trainedBefore) / 5,
                (long) metrics.trainerConsumerLag.get());
            trainedBefore = trainedNow;
            nextProgress += 5_000;
          }
          for (ConsumerRecord<String, byte[]> r : adapters.poll(Duration.ofMillis(50))) {
            long seenAt = System.currentTimeMillis();
            AdapterSnapshot s = AvroCodec.ADAPTER_SNAPSHOT.decode(r.value());
            synchronized (eventTimes) {
              List<Long> times = eventTimes.getOrDefault(s.getTenant(), List.of());
              int from = covered.getOrDefault(s.getTenant(), 0);
              int to = (int) Math.min(s.getExamplesSeen(), times.size());
              for (int i = from; i < to; i++) {
                long event = times.get(i);
                if (event >= window[0] && event < window[1]) {
                  freshness.add(seenAt - event);
                }
              }
              covered.put(s.getTenant(), Math.max(from, to));
            }
          }
          if (!fromTaken && System.currentTimeMillis() >= measureFrom) {
            trainedAtFrom = metrics.trainerExamples.labelValues("trained").get();
            timesAtFrom = CycleTimes.of(metrics);
            fromTaken = true;
          }
        }
        trainedAtTo = metrics.trainerExamples.labelValues("trained").get();
        timesAtTo = CycleTimes.of(metrics);
        producing.set(false);
        producer.join(10_000);
      }
      double seconds = measureMs / 1e3;
      double trained = (trainedAtTo - trainedAtFrom) / seconds;
      long[] sorted = freshness.stream().mapToLong(Long::longValue).sorted().toArray();
      var fused = metrics.trainerFusedBatchTenants.collect().getDataPoints().get(0);
      String load = String.format("offered %.0f examples/s round-robin over %d tenants (%.1f per tenant per s), "
          + "batch %d or %d ms, max %d fused rows, %d train thread(s), %s gate, publish every step; %d s measured "
          + "after %.0f s warm-up (at least %d s, then until at most %d examples waited, or %d s at most), which "
          + "began once every tenant had published its first example; %s, broker in the same JVM", offered, tenants,
          offered / tenants, settings.batchSize(), settings.batchMaxWait().toMillis(), settings.maxFusedRows(),
          settings.trainThreads(), settings.gate().equals(TrainerSettings.Gate.open()) ? "open" : "quality",
          measureMs / 1000, warmedUp[0], warmupMs / 1000, drainedBacklog, longestWarmupMs / 1000, modelName(base));
      List<Figure> figures = new ArrayList<>();
      figures.add(Figure.against("trainer_examples_per_s_100_tenants", trained, producedInWindow[0] / seconds,
          "examples/s", "examples trained per second against examples offered in the same window (baseline); "
              + "ratio < 1 means the trainer fell behind; " + load));
      figures.add(Figure.of("trainer_warmup_s_100_tenants", warmedUp[0], "s",
          "warm-up before the measured window: at least " + warmupMs / 1000 + " s, then until at most "
              + drainedBacklog + " examples (a second of load) waited to be trained, or " + longestWarmupMs / 1000
              + " s; " + load));
      figures.add(Figure.of("trainer_backlog_at_window_100_tenants", warmedUp[1], "examples",
          "examples read and not yet trained when the measured window began (above " + drainedBacklog
              + ": the warm-up's backlog had not drained in " + longestWarmupMs / 1000 + " s); " + load));
      if (timesAtFrom != null) {
        CycleTimes inWindow = timesAtTo.minus(timesAtFrom);
        figures.add(Figure.of("trainer_cycles_per_s_100_tenants", inWindow.commits() / seconds, "cycles/s",
            "transactions committed per second in the window (each holds every micro-batch ready when its cycle "
                + "began); " + load));
        figures.add(Figure.of("trainer_commit_share_100_tenants", 100 * inWindow.commitSeconds() / seconds, "%",
            "share of the window the cycles' commits took (flush of the cycle's records and EndTxn, on the commit "
                + "thread while the next cycle's steps run); " + load));
        figures.add(Figure.of("trainer_commit_wait_share_100_tenants", 100 * inWindow.commitWaitSeconds() / seconds,
            "%", "share of the window the trainer thread waited for a commit before sending the next cycle's "
                + "records (the part of the commits the steps did not hide); " + load));
        figures.add(Figure.of("trainer_step_busy_100_tenants", 100 * inWindow.stepSeconds() / seconds, "%",
            "sum of the steps' durations as a share of the window (above 100% when train threads overlap); "
                + settings.trainThreads() + " train thread(s); " + load));
      }
      figures.add(Figure.of("trainer_fused_tenants_per_step_100_tenants",
          fused.getCount() == 0 ? 0 : fused.getSum() / fused.getCount(), "tenants",
          "mean tenants per fused step over the whole run; " + load));
      figures.add(Figure.of("trainer_freshness_p50_ms_100_tenants", percentile(sorted, 0.50), "ms",
          "event time of an example to the first snapshot containing it seen on the adapters topic ("
              + sorted.length + " examples sent in the window and published before its end); " + load));
      figures.add(Figure.of("trainer_freshness_p99_ms_100_tenants", percentile(sorted, 0.99), "ms",
          "as p50; examples not yet published at the window's end are not counted; " + load));
      return figures;
    }
  }

  /**
   * Sends each tenant's first example and waits until every tenant has published a snapshot of
   * it, so the timed load meets a trainer that has joined its group, made its tenants' states and
   * run its code paths once: a backlog from the start would otherwise be measured as freshness.
   */
  private static void prime(KafkaSettings kafka, Topics topics, TrainerWorkload workload, int tenants,
      Map<String, List<Long>> eventTimes, KafkaConsumer<String, byte[]> adapters) {
    try (KafkaProducer<String, byte[]> p = new KafkaProducer<>(kafka.producer(), new StringSerializer(),
        new ByteArraySerializer())) {
      for (int tenant = 0; tenant < tenants; tenant++) {
        long now = System.currentTimeMillis();
        var example = workload.example(tenant, 0, Instant.ofEpochMilli(now));
        synchronized (eventTimes) {
          eventTimes.computeIfAbsent(example.getTenant(), k -> new ArrayList<>()).add(now);
        }
        p.send(new ProducerRecord<>(topics.cleanExamples().name(), example.getTenant(),
            AvroCodec.TRAINING_EXAMPLE.encode(example)));
      }
    }
    Set<String> published = new HashSet<>();
    long deadline = System.currentTimeMillis() + 120_000;
    while (published.size() < tenants) {
      if (System.currentTimeMillis() > deadline) {
        throw new IllegalStateException("the trainer published only " + published.size() + " of " + tenants
            + " tenants' first snapshots in 120 s");
      }
      for (ConsumerRecord<String, byte[]> r : adapters.poll(Duration.ofMillis(50))) {
        published.add(r.key());
      }
    }
  }

  /** Totals of the trainer's commit and step histograms at one moment. */
  private record CycleTimes(double commits, double commitSeconds, double commitWaitSeconds, double stepSeconds) {
    static CycleTimes of(Metrics metrics) {
      var commit = metrics.trainerCommitSeconds.collect().getDataPoints().get(0);
      var wait = metrics.trainerCommitWaitSeconds.collect().getDataPoints().get(0);
      var step = metrics.trainerStepSeconds.collect().getDataPoints().get(0);
      return new CycleTimes(commit.getCount(), commit.getSum(), wait.getSum(), step.getSum());
    }

    CycleTimes minus(CycleTimes earlier) {
      return new CycleTimes(commits - earlier.commits, commitSeconds - earlier.commitSeconds,
          commitWaitSeconds - earlier.commitWaitSeconds, stepSeconds - earlier.stepSeconds);
    }
  }

  private static double percentile(long[] sorted, double q) {
    if (sorted.length == 0) {
      return Double.NaN;
    }
    int i = (int) Math.ceil(q * sorted.length) - 1;
    return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
  }

}
