package io.lorastream.train;

import io.lorastream.avro.AdapterCheckpoint;
import io.lorastream.avro.AdapterSnapshot;
import io.lorastream.avro.HoldoutExample;
import io.lorastream.avro.PublishedVersion;
import io.lorastream.bench.TrainerWorkload;
import io.lorastream.contract.AvroCodec;
import io.lorastream.contract.Sha256;
import io.lorastream.model.BaseModel;
import io.lorastream.model.LoraConfig;
import io.lorastream.model.TrainingPair;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Where one tenant's trainer cycle spends its time, part by part, in process: the training step
 * (forward alone, forward + backward + AdamW, and the step with the default rehearsal rows), the
 * quality gate's evaluation (also right after a new holdout example arrived), the PEFT weights,
 * the checkpoint, kept-version and snapshot encodings and the weights digest. Not a test: run it with
 * {@code java -cp target/test-classes:target/classes:target/lib/* io.lorastream.train.TrainerCycleProfile [repeats [qv|all-linear [batch size]]]}.
 * Prompts carry 24 context words, as the e2e-100-tenants scenario's do.
 */
public final class TrainerCycleProfile {
  private TrainerCycleProfile() {}

  public static void main(String[] args) {
    int repeats = args.length > 0 ? Integer.parseInt(args[0]) : 10;
    try (BaseModel base = BaseModel.load(Path.of("models/lorastream-tiny"))) {
      List<LoraConfig> loras = args.length > 1 && args[1].equals("all-linear") ? List.of(TrainerSettings.DEFAULT_LORA)
          : args.length > 1 && args[1].equals("qv") ? List.of(LoraConfig.defaults())
          : List.of(LoraConfig.defaults(), TrainerSettings.DEFAULT_LORA);
      int[] sizes = args.length > 2 ? new int[] {Integer.parseInt(args[2])} : new int[] {1, 8};
      for (LoraConfig lora : loras) {
        for (int size : sizes) {
          profile(base, lora, size, repeats);
        }
      }
    }
  }

  static List<TrainingPair> batch(TrainerWorkload workload, long first, int size) {
    List<TrainingPair> pairs = new ArrayList<>();
    for (TrainingPair p : workload.batch(0, first, size)) {
      pairs.add(new TrainingPair(context(first) + p.prompt(), p.completion(), p.weight()));
    }
    return pairs;
  }

  private static String context(long n) {
    StringBuilder s = new StringBuilder("Context:");
    for (int w = 0; w < 24; w++) {
      s.append(' ').append(WORDS[(int) ((n * 7 + w * 3) % WORDS.length)]);
    }
    return s.append(".\n").toString();
  }

  private static final String[] WORDS = {"order", "parcel", "customer", "delivery", "refund", "account",
      "support", "invoice", "address", "shipping", "return", "item", "store", "payment", "card", "email"};

  private static void profile(BaseModel base, LoraConfig lora, int size, int repeats) {
    TrainerSettings settings = TrainerSettings.defaults().withLora(lora);
    TenantStates states = new TenantStates(base, settings);
    TrainerWorkload workload = new TrainerWorkload(7);
    Map<String, double[]> millis = new LinkedHashMap<>();
    Rehearsal rehearsal = new Rehearsal(settings.rehearsalRatio());
    try (TenantState state = states.fresh("tenant-00000");
        QualityGate gate = new QualityGate(base, settings);
        QualityGate open = new QualityGate(base, settings.withGate(TrainerSettings.Gate.open()))) {
      for (int h = 0; h < TenantState.HOLDOUT_KEPT; h++) {
        TrainingPair p = batch(workload, 10_000 + h, 1).get(0);
        state.keepHoldout(new HoldoutExample("h-" + h, p.prompt(), p.completion(), p.weight()));
      }
      byte[] weights0 = state.adapter.toPeftSafetensors();
      for (int v = 1; v <= settings.keptVersions(); v++) {
        state.rememberVersion(new PublishedVersion((long) v, ByteBuffer.wrap(weights0), Sha256.hex(weights0), 0L,
            Instant.EPOCH), settings.keptVersions());
      }
      gate.evaluate(state); // caches the base model's holdout and canary losses, as a running trainer has
      long n = 0;
      for (int r = -2; r < repeats; r++) { // two warm-up rounds
        List<TrainingPair> pairs = batch(workload, n, size);
        n += size;
        List<TrainingPair> rehearsed = rehearsal.mixInto(pairs, state.tenant, n);
        time(millis, "forward only (loss)", r, () -> state.trainer.loss(pairs));
        time(millis, "step: forward+backward+AdamW", r, () -> state.trainer.step(pairs));
        millis.computeIfAbsent("rows of a step with rehearsal", k -> new double[1])[0] = rehearsed.size();
        time(millis, "step with rehearsal rows", r, () -> state.trainer.step(rehearsed));
        byte[] weights = time(millis, "toPeftSafetensors", r, state.adapter::toPeftSafetensors);
        time(millis, "gate evaluation, default gate", r, () -> gate.evaluate(state));
        TrainingPair fresh = batch(workload, 20_000 + n, 1).get(0);
        state.keepHoldout(new HoldoutExample("new-" + n, fresh.prompt(), fresh.completion(), fresh.weight()));
        time(millis, "gate evaluation, default gate, new holdout ex.", r, () -> gate.evaluate(state));
        time(millis, "gate evaluation, open gate", r, () -> open.evaluate(state));
        time(millis, "SHA-256 of weights", r, () -> Sha256.hex(weights));
        AdapterSnapshot snapshot = time(millis, "snapshot build (incl. SHA-256)", r,
            () -> states.snapshot(state, weights, null, 1f, 1f, 0));
        time(millis, "snapshot Avro encoding", r, () -> AvroCodec.ADAPTER_SNAPSHOT.encode(snapshot));
        time(millis, "optimizer state safetensors", r, state.trainer::optimizerStateSafetensors);
        AdapterCheckpoint checkpoint = time(millis, "checkpoint build (incl. optimizer state)", r,
            () -> states.checkpoint(state, weights, 0));
        byte[] encoded = time(millis, "checkpoint Avro encoding", r,
            () -> AvroCodec.ADAPTER_CHECKPOINT.encode(checkpoint));
        millis.computeIfAbsent("checkpoint bytes (KB)", k -> new double[1])[0] = encoded.length / 1024.0;
        PublishedVersion newest = state.newestVersion().orElseThrow();
        byte[] kept = time(millis, "kept version record build + encoding", r,
            () -> AvroCodec.KEPT_VERSION.encode(TenantStates.keptVersion(state.tenant, newest)));
        millis.computeIfAbsent("kept version record bytes (KB, per publish)", k -> new double[1])[0] =
            kept.length / 1024.0;
      }
    }
    System.out.printf("%n%s r %d, batch %d (%d runs, median ms):%n", lora.targetModules(), lora.rank(), size, repeats);
    millis.forEach((name, values) -> System.out.printf("  %-42s %8.2f%n", name, median(values)));
  }

  private static <T> T time(Map<String, double[]> millis, String name, int round, Supplier<T> body) {
    long start = System.nanoTime();
    T result = body.get();
    double ms = (System.nanoTime() - start) / 1e6;
    if (round >= 0) {
      double[] old = millis.getOrDefault(name, new double[0]);
      double[] values = java.util.Arrays.copyOf(old, old.length + 1);
      values[old.length] = ms;
      millis.put(name, values);
    }
    return result;
  }

  private static double median(double[] values) {
    double[] sorted = values.clone();
    java.util.Arrays.sort(sorted);
    return sorted[sorted.length / 2];
  }
}
