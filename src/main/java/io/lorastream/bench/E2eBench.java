package io.lorastream.bench;

import io.lorastream.avro.TrainingExample;
import io.lorastream.chart.LineChart;
import io.lorastream.chart.Series;
import io.lorastream.contract.AvroCodec;
import io.lorastream.contract.Splits;
import io.lorastream.gateway.ApiKeys;
import io.lorastream.ingest.IngestSettings;
import io.lorastream.kafka.KafkaSettings;
import io.lorastream.kafka.Topics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.ToDoubleFunction;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The whole pipeline as separate processes ({@code ./lorastream broker}, {@code ingest},
 * {@code trainer}, {@code gateway}) under a {@link Scenario}'s load, driven and observed from this
 * process: examples produced at a fixed rate to the examples topic, completions sent over HTTP at
 * a fixed rate, the clean and adapters topics read back, the gateway's served versions polled.
 *
 * <p>Freshness of an example: from its event time (set when it is produced) to the first moment
 * the gateway's {@code /v1/models} reports, for its tenant, a version at least as new as the first
 * snapshot whose trained-through offsets cover the example's offset in the clean topic (polled
 * every {@value GatewayWatcher#PERIOD_MS} ms). Every produced example must be accounted for
 * exactly once ({@link ExampleLedger#account()}); a lost or duplicated example fails the suite.
 *
 * <p>After the load stops and the trainer has covered every example, two baseline phases send
 * the same request load with the trainer idle: over the same tenants, and all to one tenant.
 */
public final class E2eBench implements BenchSuite {
  static final Path QUICK_SCENARIO = Path.of("load-tests", "scenarios", "e2e-quick.properties");
  static final Path FULL_SCENARIO = Path.of("load-tests", "scenarios", "e2e-default.properties");
  private static final String KEY = "ls-bench-e2e-admin";
  /** Chart buckets: latency percentiles and losses are taken per this many seconds. */
  private static final double BUCKET_S = 2;
  /** The tenant of the one example that primes the pipeline before the load starts. */
  static final String PRIME_TENANT = "bench-prime";
  private static final java.time.Duration PRIME_TIMEOUT = java.time.Duration.ofMinutes(3);
  /** The pipeline's ingest runs with its default holdout share. */
  private static final double DEFAULT_HOLDOUT_SHARE = IngestSettings.DEFAULT_HOLDOUT_SHARE;

  @Override
  public String name() {
    return "e2e";
  }

  @Override
  public List<Figure> run(boolean quick) throws Exception {
    return ScratchFolder.figuresOnly(this, quick);
  }

  @Override
  public BenchResult run(BenchOptions options) throws Exception {
    Path file = options.scenario() != null ? options.scenario() : options.quick() ? QUICK_SCENARIO : FULL_SCENARIO;
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException("no scenario file " + file.toAbsolutePath()
          + "; run from the repository root or pass --scenario FILE");
    }
    Scenario scenario = Scenario.load(file);
    Path work = options.workDir().resolve("work");
    ScratchFolder.delete(work);
    try (PipelineProcesses processes = new PipelineProcesses(work)) {
      return measure(scenario, processes, work);
    }
  }

  private BenchResult measure(Scenario scenario, PipelineProcesses processes, Path work) throws Exception {
    Path keys = work.resolve("api-keys.json");
    ApiKeys.of(List.of(ApiKeys.entry("bench", null, KEY))).write(keys);
    Path baseModel = baseModel(work);
    List<String> trainerOptions = new ArrayList<>(List.of("--batch-size", Integer.toString(scenario.batchSize()),
        "--batch-max-wait-ms", Long.toString(scenario.batchMaxWaitMs())));
    trainerOptions.addAll(List.of("--torch-threads", Integer.toString(scenario.torchThreads())));
    trainerOptions.addAll(List.of("--train-threads", Integer.toString(scenario.trainThreads())));
    if (scenario.openGate()) {
      trainerOptions.addAll(List.of("--gate-holdout-margin", "Infinity", "--gate-canary-margin", "Infinity"));
    }
    long startupStarted = System.nanoTime();
    processes.startBroker();
    processes.startPipeline(baseModel, keys, trainerOptions);
    double startupSeconds = (System.nanoTime() - startupStarted) / 1e9;

    KafkaSettings kafka = KafkaSettings.of(processes.bootstrapServers());
    Topics topics = new Topics();
    ExampleLedger ledger = new ExampleLedger();
    ScenarioWorkload workload = new ScenarioWorkload(scenario);
    BenchResult result = new BenchResult();
    try (PipelineTopicReader reader = new PipelineTopicReader(kafka, topics, ledger).start();
        GatewayWatcher watcher = new GatewayWatcher(processes.gatewayUrl(), KEY, ledger).start();
        TrainerMetricsSampler sampler = new TrainerMetricsSampler(processes.trainerMetricsUrl()).start();
        OpenLoopRequests requests = new OpenLoopRequests(processes.gatewayUrl(), KEY)) {
      double primeSeconds = prime(kafka, topics, ledger);
      long loadStart = System.currentTimeMillis();
      long measureFrom = loadStart + (long) (scenario.warmupSeconds() * 1000);
      long loadEnd = loadStart + (long) (scenario.durationSeconds() * 1000);
      AtomicReference<Exception> producerFailure = new AtomicReference<>();
      Thread producer = new Thread(() -> produce(kafka, topics, workload, ledger, scenario, producerFailure),
          "bench-example-producer");
      producer.start();
      AtomicReference<TrainerMetricsSampler.Sample> atFrom = new AtomicReference<>();
      AtomicReference<CpuUse> cpuFrom = new AtomicReference<>();
      Thread windowStart = new Thread(() -> {
        sleepUntil(measureFrom);
        atFrom.set(sampler.sample());
        cpuFrom.set(CpuUse.now(processes));
      }, "bench-window-start");
      windowStart.start();
      List<OpenLoopRequests.Sample> underTraining = scenario.requestsPerSecond() > 0
          ? requests.run(workload::request, 0, scenario.requestsPerSecond(), scenario.durationSeconds()) : List.of();
      producer.join();
      windowStart.join();
      TrainerMetricsSampler.Sample atTo = sampler.sample();
      CpuUse cpuTo = CpuUse.now(processes);
      if (producerFailure.get() != null) {
        throw new IllegalStateException("producing examples failed", producerFailure.get());
      }
      long drainStarted = System.currentTimeMillis();
      boolean drained = awaitDrained(ledger, scenario, processes);
      double drainSeconds = (System.currentTimeMillis() - drainStarted) / 1e3;
      // Let the gateway's poller see the last versions before the trainer-idle phases.
      Thread.sleep(2 * GatewayWatcher.PERIOD_MS + 500);

      long offset = (long) (scenario.requestsPerSecond() * scenario.durationSeconds());
      List<OpenLoopRequests.Sample> idleMany = List.of();
      List<OpenLoopRequests.Sample> idleOne = List.of();
      if (scenario.requestsPerSecond() > 0 && scenario.baselineSeconds() > 0) {
        idleMany = requests.run(workload::request, offset, scenario.requestsPerSecond(), scenario.baselineSeconds());
        String one = ScenarioWorkload.tenant(0);
        idleOne = requests.run(i -> {
          ScenarioWorkload.Request r = workload.request(i);
          return new ScenarioWorkload.Request(one, r.prompt(), r.maxTokens());
        }, offset, scenario.requestsPerSecond(), scenario.baselineSeconds());
      }
      if (reader.failure() != null) {
        result.fail("reading the topics failed: " + reader.failure());
      }
      List<String> exited = processes.exited();
      if (!exited.isEmpty()) {
        result.fail("processes exited during the run: " + exited);
      }
      if (!drained) {
        result.fail(String.format(Locale.ROOT, "the trainer had not covered every example %.0f s after the load "
            + "stopped", scenario.drainTimeoutSeconds()));
      }
      report(result, scenario, ledger, loadStart, measureFrom, loadEnd, underTraining, idleMany, idleOne,
          sampler.samples(), atFrom.get(), atTo, startupSeconds + primeSeconds, drainSeconds, watcher);
      if (cpuFrom.get() != null) {
        double steps = atFrom.get() == null ? Double.NaN : atTo.steps() - atFrom.get().steps();
        addCpuShares(result, cpuFrom.get(), cpuTo, steps, scenario.describe());
      }
    }
    return result;
  }

  /** Each process's CPU time used so far, at a moment. */
  private record CpuUse(long atNanos, Map<String, Duration> byProcess) {
    static CpuUse now(PipelineProcesses processes) {
      return new CpuUse(System.nanoTime(), processes.cpuTimes());
    }
  }

  /**
   * Cores each process kept busy over the measured window (CPU seconds per second; the machine's
   * cores bound their sum): where the machine's time went while the trainer trained.
   */
  private static void addCpuShares(BenchResult result, CpuUse from, CpuUse to, double trainerSteps, String load) {
    double seconds = (to.atNanos() - from.atNanos()) / 1e9;
    double total = 0;
    for (Map.Entry<String, Duration> end : to.byProcess().entrySet()) {
      Duration start = from.byProcess().get(end.getKey());
      if (start == null) {
        continue;
      }
      double cores = (end.getValue().toNanos() - start.toNanos()) / 1e9 / seconds;
      total += cores;
      result.add(Figure.of("e2e_cpu_cores_" + end.getKey(), cores, "cores",
          "CPU seconds per second of the " + process(end.getKey()) + " over the measured window; " + load));
    }
    result.add(Figure.of("e2e_cpu_cores_all", total, "cores", String.format(Locale.ROOT,
        "sum over the processes above; the machine has %d", Runtime.getRuntime().availableProcessors())));
    Duration trainerStart = from.byProcess().get("trainer");
    Duration trainerEnd = to.byProcess().get("trainer");
    if (trainerStart != null && trainerEnd != null && trainerSteps > 0) {
      // Separates a trainer that waits for a core (fewer cores, same cost) from steps that cost more.
      result.add(Figure.of("e2e_trainer_cpu_ms_per_step",
          (trainerEnd.toNanos() - trainerStart.toNanos()) / 1e6 / trainerSteps, "ms",
          "the trainer process's CPU time over the window divided by the steps it took in it; " + load));
    }
  }

  private static String process(String name) {
    return name.equals("bench") ? "benchmark's own JVM (producer, requests, topic readers)" : name + " process";
  }

  private static Path baseModel(Path work) {
    Path shipped = Path.of("models", "lorastream-tiny");
    if (Files.isRegularFile(shipped.resolve("config.json"))) {
      return shipped.toAbsolutePath();
    }
    Path made = work.resolve("tiny");
    io.lorastream.model.TinyModelFactory.create(made, 42);
    return made.toAbsolutePath();
  }

  /**
   * Sends one example of tenant {@link #PRIME_TENANT} (an id ingest will not hold out) and waits
   * until the gateway serves an adapter trained on it: the load starts only once every process
   * has done its part once (a JVM answering its health check may still be loading or joining its
   * group). The example is accounted like any other. Returns the seconds it took.
   */
  private static double prime(KafkaSettings kafka, Topics topics, ExampleLedger ledger) throws Exception {
    long started = System.nanoTime();
    String id = "prime-0";
    for (int i = 1; Splits.assign(PRIME_TENANT, id, DEFAULT_HOLDOUT_SHARE).equals(Splits.HOLDOUT); i++) {
      id = "prime-" + i;
    }
    long now = System.currentTimeMillis();
    TrainingExample example = TrainingExample.newBuilder().setId(id).setTenant(PRIME_TENANT)
        .setPrompt("Question: Is anyone there?\nAnswer:").setCompletion(" Yes, we are here to help.")
        .setWeight(1f).setEventTime(Instant.ofEpochMilli(now)).setMetadata(java.util.Map.of("source", "bench-e2e"))
        .build();
    ledger.produced(PRIME_TENANT, id, now);
    try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(kafka.producer(), new StringSerializer(),
        new ByteArraySerializer())) {
      producer.send(new ProducerRecord<>(topics.examples().name(), PRIME_TENANT,
          AvroCodec.TRAINING_EXAMPLE.encode(example))).get();
    }
    long deadline = System.nanoTime() + PRIME_TIMEOUT.toNanos();
    while (!ledger.servedAny(PRIME_TENANT)) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("the pipeline did not serve an adapter for one example within "
            + PRIME_TIMEOUT + " (process logs in the report folder's work/)");
      }
      Thread.sleep(100);
    }
    return (System.nanoTime() - started) / 1e9;
  }

  /** Example i is due at start + i / rate; its event time is when it is sent. */
  private static void produce(KafkaSettings kafka, Topics topics, ScenarioWorkload workload, ExampleLedger ledger,
      Scenario scenario, AtomicReference<Exception> failure) {
    long count = (long) Math.floor(scenario.examplesPerSecond() * scenario.durationSeconds());
    try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(kafka.producer(), new StringSerializer(),
        new ByteArraySerializer())) {
      long start = System.nanoTime();
      for (long i = 0; i < count; i++) {
        long wait = start + (long) (i * 1e9 / scenario.examplesPerSecond()) - System.nanoTime();
        if (wait > 0) {
          Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
        }
        long now = System.currentTimeMillis();
        TrainingExample example = workload.example(i, Instant.ofEpochMilli(now));
        ledger.produced(example.getTenant(), example.getId(), now);
        producer.send(new ProducerRecord<>(topics.examples().name(), example.getTenant(),
            AvroCodec.TRAINING_EXAMPLE.encode(example)));
      }
      producer.flush();
    } catch (Exception e) {
      failure.set(e);
    }
  }

  private static boolean awaitDrained(ExampleLedger ledger, Scenario scenario, PipelineProcesses processes)
      throws InterruptedException {
    long deadline = System.currentTimeMillis() + (long) (scenario.drainTimeoutSeconds() * 1000);
    while (System.currentTimeMillis() < deadline) {
      if (ledger.drained()) {
        return true;
      }
      if (!processes.exited().isEmpty()) {
        return false;
      }
      Thread.sleep(200);
    }
    return ledger.drained();
  }

  private static void sleepUntil(long epochMs) {
    try {
      long wait = epochMs - System.currentTimeMillis();
      if (wait > 0) {
        Thread.sleep(wait);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  // ---- figures and charts -------------------------------------------------------------------

  private static void report(BenchResult result, Scenario scenario, ExampleLedger ledger, long loadStart,
      long measureFrom, long loadEnd, List<OpenLoopRequests.Sample> underTraining,
      List<OpenLoopRequests.Sample> idleMany, List<OpenLoopRequests.Sample> idleOne,
      List<TrainerMetricsSampler.Sample> samples, TrainerMetricsSampler.Sample atFrom,
      TrainerMetricsSampler.Sample atTo, double startupSeconds, double drainSeconds, GatewayWatcher watcher) {
    String load = scenario.describe();
    double window = (loadEnd - measureFrom) / 1e3;

    ExampleLedger.Freshness freshness = ledger.freshness(measureFrom, loadEnd);
    double[] fresh = freshness.millis().clone();
    Arrays.sort(fresh);
    String freshNote = "event time -> first /v1/models poll (every " + GatewayWatcher.PERIOD_MS + " ms) showing a "
        + "version >= the first snapshot whose trained-through offsets cover the example; " + fresh.length
        + " trainable examples sent in the " + Math.round(window) + " s window, " + freshness.unserved()
        + " never served; " + load;
    result.add(Figure.of("e2e_freshness_p50_ms", percentile(fresh, 0.50), "ms", freshNote).withAim("<= 1000 ms"));
    result.add(Figure.of("e2e_freshness_p99_ms", percentile(fresh, 0.99), "ms", freshNote).withAim("<= 3000 ms"));

    long trainableInWindow = ledger.cleanRecords().stream().filter(r -> !r.holdout())
        .filter(r -> inWindow(ledger, r, measureFrom, loadEnd)).count();
    if (atFrom != null && Double.isFinite(atFrom.trained()) && Double.isFinite(atTo.trained())) {
      double seconds = (atTo.atMs() - atFrom.atMs()) / 1e3;
      result.add(Figure.against("e2e_examples_trained_per_s", (atTo.trained() - atFrom.trained()) / seconds,
          trainableInWindow / window, "examples/s", "trainer's lorastream_trainer_examples_total{outcome=trained} "
              + "over the window; baseline: trainable (non-holdout) examples offered per second in it; ratio < 1 "
              + "means the trainer fell behind; " + load).withAim("ratio 1.0 (keeps up)"));
      result.add(Figure.of("e2e_train_tokens_per_s", (atTo.tokens() - atFrom.tokens()) / seconds, "tokens/s",
          "lorastream_trainer_tokens_total over the window; " + load));
      result.add(Figure.of("e2e_train_steps_per_s", (atTo.steps() - atFrom.steps()) / seconds, "steps/s",
          "lorastream_trainer_steps_total over the window; " + load));
      double stepShare = (atTo.stepSeconds() - atFrom.stepSeconds()) / seconds;
      double commitShare = (atTo.commitWaitSeconds() - atFrom.commitWaitSeconds()) / seconds;
      result.add(Figure.of("e2e_trainer_busy_share", stepShare + commitShare, "share of wall time",
          String.format(java.util.Locale.ROOT, "the trainer's training steps (%.0f%%, lorastream_trainer_step_seconds) "
              + "and waits for transaction commits (%.0f%%, lorastream_trainer_commit_wait_seconds) over the window; the rest "
              + "went to polling, batching, the quality gate and serialising records; ", 100 * stepShare,
              100 * commitShare) + load));
    }

    List<OpenLoopRequests.Sample> measured = underTraining.stream()
        .filter(s -> s.sentAtMs() >= measureFrom && s.sentAtMs() < loadEnd).toList();
    if (!measured.isEmpty()) {
      long ok = measured.stream().filter(OpenLoopRequests.Sample::ok).count();
      String reqNote = "open loop, " + scenario.requestsPerSecond() + " requests/s over " + scenario.tenants()
          + " tenants, " + scenario.maxTokens() + " tokens each, while training; " + load;
      result.add(Figure.against("e2e_requests_per_s", ok / window, measured.size() / window, "requests/s",
          "requests answered 200 per second of the window; baseline: requests sent; " + reqNote)
          .withAim("ratio 1.0 (all answered)"));
      java.util.Map<Integer, Long> statuses = new java.util.TreeMap<>();
      measured.stream().filter(s -> !s.ok()).forEach(s -> statuses.merge(s.status(), 1L, Long::sum));
      result.add(Figure.of("e2e_request_errors", measured.size() - ok, "requests",
          "non-200 answers or no answer (status 0: timed out after 60 s or failed) in the window, by status "
              + statuses + "; " + reqNote).withAim("0"));
      addLatency(result, "e2e_latency_p50_ms", 0.50, measured, idleMany, reqNote);
      addLatency(result, "e2e_latency_p99_ms", 0.99, measured, idleMany, reqNote);
    }
    if (!idleMany.isEmpty() && !idleOne.isEmpty()) {
      String idleNote = "trainer idle, same open-loop load for " + scenario.baselineSeconds() + " s; baseline: "
          + "all requests to one tenant (" + ScenarioWorkload.tenant(0) + "); ratio > 1: many tenants are slower";
      for (double q : new double[] {0.50, 0.99}) {
        result.add(Figure.against("e2e_idle_latency_p" + (int) (q * 100) + "_ms_" + scenario.tenants() + "_tenants",
            OpenLoopRequests.latencyPercentile(idleMany, q), OpenLoopRequests.latencyPercentile(idleOne, q), "ms",
            idleNote));
      }
    }

    ExampleLedger.Accounting accounting = ledger.account();
    String accountingNote = accounting.produced() + " produced, " + accounting.clean() + " in the clean topic ("
        + accounting.holdout() + " holdout), " + ledger.snapshots().size() + " snapshots; "
        + (accounting.problems().isEmpty() ? "every example accounted for exactly once"
            : String.join("; ", accounting.problems()));
    result.add(Figure.of("e2e_lost_examples", accounting.lost(), "examples", accountingNote).withAim("0"));
    result.add(Figure.of("e2e_untrained_examples", accounting.untrained(), "examples",
        "trainable examples beyond their tenant's newest snapshot at the end: the trainer's backlog when the "
            + "drain timed out").withAim("0"));
    result.add(Figure.of("e2e_duplicated_examples", accounting.duplicated(), "examples", accountingNote)
        .withAim("0"));
    result.add(Figure.of("e2e_inconsistent_snapshots", accounting.inconsistentSnapshots(), "snapshots",
        "snapshots whose examplesSeen differs from the trainable examples their offsets cover").withAim("0"));
    result.add(Figure.of("e2e_snapshots_published", ledger.snapshots().size(), "snapshots", load));
    result.add(Figure.of("e2e_startup_s", startupSeconds, "s",
        "broker, then ingest, trainer and gateway started as separate JVMs until each answered its health check, "
            + "then until one priming example was served by the gateway"));
    result.add(Figure.of("e2e_drain_s", drainSeconds, "s",
        "from the last example sent until every trainable example was covered by a published snapshot"));
    if (!accounting.exact()) {
      result.fail("examples not accounted for exactly once: lost " + accounting.lost() + ", untrained "
          + accounting.untrained() + ", duplicated " + accounting.duplicated() + ", inconsistent snapshots " + accounting.inconsistentSnapshots() + ": "
          + accounting.problems());
    }
    if (ledger.producedCount() == 0 || ledger.snapshots().isEmpty()) {
      result.fail("nothing was trained: " + ledger.producedCount() + " examples produced, "
          + ledger.snapshots().size() + " snapshots");
    }
    if (watcher.polls() == 0) {
      result.fail("the gateway never answered GET /v1/models");
    }

    charts(result, fresh, underTraining, samples, ledger.snapshots(), loadStart);
  }

  private static boolean inWindow(ExampleLedger ledger, ExampleLedger.CleanRecord r, long from, long to) {
    long event = ledger.eventTime(r);
    return event >= from && event < to;
  }

  private static void addLatency(BenchResult result, String metric, double q, List<OpenLoopRequests.Sample> measured,
      List<OpenLoopRequests.Sample> idle, String note) {
    double value = OpenLoopRequests.latencyPercentile(measured, q);
    if (idle.isEmpty()) {
      result.add(Figure.of(metric, value, "ms", "whole answer, from its scheduled send; " + note));
    } else {
      result.add(Figure.against(metric, value, OpenLoopRequests.latencyPercentile(idle, q), "ms",
          "whole answer, from its scheduled send; baseline: the same load over the same tenants after training "
              + "stopped (ratio > 1: training slows serving); " + note));
    }
  }

  private static void charts(BenchResult result, double[] freshMs, List<OpenLoopRequests.Sample> requests,
      List<TrainerMetricsSampler.Sample> samples, List<ExampleLedger.SnapshotFacts> snapshots, long t0) {
    double[] freshS = Arrays.stream(freshMs).map(ms -> ms / 1000).toArray();
    result.chart("freshness_cdf", new LineChart("Freshness: example event -> served by the gateway",
        "seconds", "share of examples").add(Series.cdf("freshness", freshS)).yRange(0, 1));

    Series p50 = new Series("p50");
    Series p99 = new Series("p99");
    for (List<OpenLoopRequests.Sample> bucket : buckets(requests, s -> (s.sentAtMs() - t0) / 1e3)) {
      double x = (bucket.get(0).sentAtMs() - t0) / 1e3;
      x = Math.floor(x / BUCKET_S) * BUCKET_S + BUCKET_S / 2;
      p50.add(x, OpenLoopRequests.latencyPercentile(bucket, 0.5));
      p99.add(x, OpenLoopRequests.latencyPercentile(bucket, 0.99));
    }
    result.chart("latency_over_time", new LineChart("Completion latency while training (per "
        + (int) BUCKET_S + " s of sends)", "seconds since load start", "ms").add(p50).add(p99));

    Series tokens = new Series("tokens/s");
    Series examples = new Series("examples/s");
    for (int i = 1; i < samples.size(); i++) {
      TrainerMetricsSampler.Sample a = samples.get(i - 1);
      TrainerMetricsSampler.Sample b = samples.get(i);
      double dt = (b.atMs() - a.atMs()) / 1e3;
      double x = (b.atMs() - t0) / 1e3;
      tokens.add(x, (b.tokens() - a.tokens()) / dt);
      examples.add(x, (b.trained() - a.trained()) / dt);
    }
    result.chart("train_tokens_per_s", new LineChart("Training throughput (trainer /metrics, 1 s samples)",
        "seconds since load start", "tokens/s").add(tokens));
    result.chart("train_examples_per_s", new LineChart("Examples trained per second (trainer /metrics)",
        "seconds since load start", "examples/s").add(examples));

    Series train = new Series("train loss");
    Series holdout = new Series("holdout loss");
    for (List<ExampleLedger.SnapshotFacts> bucket : buckets(snapshots, s -> (s.seenAtMs() - t0) / 1e3)) {
      double x = Math.floor((bucket.get(0).seenAtMs() - t0) / 1e3 / BUCKET_S) * BUCKET_S + BUCKET_S / 2;
      train.add(x, mean(bucket, s -> s.trainLoss() == null ? Double.NaN : s.trainLoss()));
      holdout.add(x, mean(bucket, s -> s.holdoutLoss() == null ? Double.NaN : s.holdoutLoss()));
    }
    result.chart("learning_curve", new LineChart("Learning curve: mean loss of the snapshots published (per "
        + (int) BUCKET_S + " s, all tenants)", "seconds since load start", "loss (nats/token)")
        .add(train).add(holdout));
  }

  /** Items grouped into consecutive {@link #BUCKET_S}-second buckets of {@code seconds}, in order; empty ones left out. */
  static <T> List<List<T>> buckets(List<T> items, ToDoubleFunction<T> seconds) {
    List<T> sorted = new ArrayList<>(items);
    sorted.sort((a, b) -> Double.compare(seconds.applyAsDouble(a), seconds.applyAsDouble(b)));
    List<List<T>> out = new ArrayList<>();
    long current = Long.MIN_VALUE;
    for (T item : sorted) {
      long bucket = (long) Math.floor(seconds.applyAsDouble(item) / BUCKET_S);
      if (bucket != current) {
        out.add(new ArrayList<>());
        current = bucket;
      }
      out.get(out.size() - 1).add(item);
    }
    return out;
  }

  private static <T> double mean(List<T> items, ToDoubleFunction<T> value) {
    return items.stream().mapToDouble(value).filter(Double::isFinite).average().orElse(Double.NaN);
  }

  static double percentile(double[] sorted, double q) {
    if (sorted.length == 0) {
      return Double.NaN;
    }
    int i = (int) Math.ceil(q * sorted.length) - 1;
    return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
  }

}
