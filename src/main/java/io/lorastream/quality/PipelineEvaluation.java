package io.lorastream.quality;

import io.lorastream.contract.AvroCodec;
import io.lorastream.contract.Splits;
import io.lorastream.demo.LocalPipeline;
import io.lorastream.gateway.ApiKeys;
import io.lorastream.ingest.IngestSettings;
import io.lorastream.train.TrainerSettings;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The whole pipeline measured end to end in one process: the dataset is produced into Kafka at a
 * fixed rate, ingest and the continual trainer turn it into adapters, and the gateway is asked
 * every tenant's held-out questions over real HTTP, periodically while training runs (the
 * learning curve) and once every example has been trained on (the final scores). The base
 * model's scores, measured before any example is produced, are the baseline.
 */
public final class PipelineEvaluation {
  private static final Logger log = LoggerFactory.getLogger(PipelineEvaluation.class);

  /**
   * @param tenants how many tenants of the dataset train at once
   * @param examplesPerTenant examples produced for each tenant (about 10% of them become holdout, never trained on)
   * @param examplesPerSecond production rate over all tenants (round robin)
   * @param sampleEvery time between learning-curve samples
   * @param settleTimeout how long to wait, after the last example, for the adapters to catch up
   * @param seed dataset seed
   * @param parallelRequests evaluation requests in flight at once
   */
  public record Settings(int tenants, int examplesPerTenant, double examplesPerSecond, Duration sampleEvery,
      Duration settleTimeout, long seed, int parallelRequests, TrainerSettings trainer) {
    public Settings {
      if (examplesPerTenant < 1) {
        throw new IllegalArgumentException("examples per tenant must be at least 1, got " + examplesPerTenant);
      }
      if (!(examplesPerSecond > 0)) {
        throw new IllegalArgumentException("rate must be positive, got " + examplesPerSecond);
      }
      if (sampleEvery.isNegative() || sampleEvery.isZero()) {
        throw new IllegalArgumentException("sample interval must be positive, got " + sampleEvery);
      }
      Objects.requireNonNull(trainer, "trainer");
    }
  }

  private final Settings settings;
  private final CustomerServiceDataset data;

  public PipelineEvaluation(Settings settings) {
    this.settings = settings;
    this.data = new CustomerServiceDataset(settings.tenants(), settings.seed());
  }

  public CustomerServiceDataset dataset() {
    return data;
  }

  /** Runs the pipeline in {@code dataDir} on {@code baseModelDir} and returns what was measured. */
  public EvalReport run(Path dataDir, Path baseModelDir) throws InterruptedException {
    String key = ApiKeys.newKey();
    ApiKeys keys = ApiKeys.of(List.of(ApiKeys.entry("eval-admin", null, key)));
    try (LocalPipeline pipeline = new LocalPipeline(dataDir, baseModelDir, 0, settings.trainer(), keys)) {
      if (!pipeline.gateway().awaitReady(Duration.ofMinutes(1))) {
        throw new IllegalStateException("the gateway did not become ready within a minute");
      }
      GatewayClient client = new GatewayClient(URI.create("http://127.0.0.1:" + pipeline.gateway().port()), key);
      HeldOutEvaluation evaluation = new HeldOutEvaluation(client, data, settings.parallelRequests());
      log.info("asking the base model {} held-out questions", data.tenants().size() * heldOutPerTenant());
      FactScores base = evaluation.baseModel();

      AtomicLong producedPerTenant = new AtomicLong();
      long start = System.nanoTime();
      Thread producer = new Thread(() -> produce(pipeline, producedPerTenant), "lorastream-eval-producer");
      producer.setDaemon(true);
      producer.start();

      List<CurvePoint> curve = new ArrayList<>();
      long expected = trainedPerTenantMinimum();
      long settleDeadline = Long.MAX_VALUE;
      while (true) {
        Thread.sleep(settings.sampleEvery().toMillis());
        double seconds = (System.nanoTime() - start) / 1e9;
        Map<String, Long> seen = client.examplesSeen();
        FactScores now = evaluation.adapters();
        double meanSeen = data.tenants().stream().mapToLong(t -> seen.getOrDefault(t.tenant(), 0L)).average().orElse(0);
        Map<String, CanaryLoss> canaryNow = evaluation.canary(pipeline.base(), seen.keySet());
        Map<String, CurvePoint.TenantSample> perTenant = new LinkedHashMap<>();
        for (TenantFacts t : data.tenants()) {
          CanaryLoss c = canaryNow.get(t.tenant());
          perTenant.put(t.tenant(), new CurvePoint.TenantSample(seen.getOrDefault(t.tenant(), 0L),
              now.perTenant().get(t.tenant()).accuracy(), c == null ? Double.NaN : c.relativeChange()));
        }
        CurvePoint point = new CurvePoint(seconds, producedPerTenant.get(), meanSeen, now.overall().accuracy(),
            now.overall().leakage(), evaluation.adaptersOnTrainedParaphrases().overall().accuracy(), perTenant);
        curve.add(point);
        log.info("curve: {} s, {} examples seen per tenant, accuracy {}", String.format("%.0f", seconds),
            String.format("%.1f", meanSeen), String.format("%.3f", point.accuracy()));
        if (!producer.isAlive() && settleDeadline == Long.MAX_VALUE) {
          settleDeadline = System.nanoTime() + settings.settleTimeout().toNanos();
        }
        boolean caughtUp = data.tenants().stream().allMatch(t -> seen.getOrDefault(t.tenant(), 0L) >= expected);
        if (!producer.isAlive() && (caughtUp || System.nanoTime() > settleDeadline)) {
          break;
        }
      }
      FactScores adapters = evaluation.adapters();
      FactScores trained = evaluation.adaptersOnTrainedParaphrases();
      Map<String, CanaryLoss> canary = evaluation.canary(pipeline.base());
      Map<String, Long> seen = client.examplesSeen();
      return new EvalReport("in-process", settings.tenants(), settings.examplesPerTenant(),
          settings.examplesPerSecond(), settings.seed(), settings.trainer(), base, adapters, trained, canary, seen, curve,
          (System.nanoTime() - start) / 1e9);
    }
  }

  private int heldOutPerTenant() {
    return data.heldOut(data.tenants().get(0)).size();
  }

  /** The fewest examples any tenant will train on: its produced examples not tagged holdout by ingest. */
  private long trainedPerTenantMinimum() {
    double share = IngestSettings.defaults().holdoutShare();
    long min = Long.MAX_VALUE;
    for (TenantFacts t : data.tenants()) {
      long trained = 0;
      for (int n = 0; n < settings.examplesPerTenant(); n++) {
        if (Splits.TRAIN.equals(Splits.assign(t.tenant(), data.example(t, n).id(), share))) {
          trained++;
        }
      }
      min = Math.min(min, trained);
    }
    return min;
  }

  /** Round robin over the tenants at the configured rate, until each has its examples. */
  private void produce(LocalPipeline pipeline, AtomicLong producedPerTenant) {
    long pauseNanos = (long) (1e9 / settings.examplesPerSecond());
    long next = System.nanoTime();
    try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(pipeline.kafka().producer(),
        new StringSerializer(), new ByteArraySerializer())) {
      for (int n = 0; n < settings.examplesPerTenant(); n++) {
        for (TenantFacts tenant : data.tenants()) {
          byte[] value = AvroCodec.TRAINING_EXAMPLE.encode(data.example(tenant, n).toTrainingExample(Instant.now()));
          producer.send(new ProducerRecord<>(pipeline.topics().examples().name(), tenant.tenant(), value));
          next += pauseNanos;
          long wait = next - System.nanoTime();
          if (wait > 0) {
            Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
          }
        }
        producedPerTenant.set(n + 1);
      }
      producer.flush();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
