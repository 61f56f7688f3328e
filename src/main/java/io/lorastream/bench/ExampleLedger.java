package io.lorastream.bench;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What an end-to-end run saw, from the client side: the examples it produced, the records ingest
 * wrote to the clean topic, the snapshots the trainer published and the versions the gateway
 * reported serving. From that it accounts for every example (lost or trained twice) and computes
 * freshness. Thread-safe: the producer, the topic reader and the gateway watcher add concurrently.
 */
public final class ExampleLedger {
  /** An example as ingest wrote it to the clean topic. */
  public record CleanRecord(String tenant, String id, int partition, long offset, boolean holdout) {}

  /**
   * A published snapshot's accounting facts.
   *
   * @param trainedThrough per clean-topic partition, the offset of the next example not trained on
   * @param seenAtMs when this client read it from the adapters topic (epoch ms)
   */
  public record SnapshotFacts(String tenant, long version, Map<Integer, Long> trainedThrough, long examplesSeen,
      Float trainLoss, Float holdoutLoss, long seenAtMs) {}

  /**
   * The accounting of a run.
   *
   * @param lost produced examples never in the clean topic, and examples a tenant's newest snapshot's
   *     offsets cover that it did not train on
   * @param untrained trainable clean examples beyond the tenant's newest snapshot's offsets: not yet
   *     trained (a backlog while the trainer is behind), lost only if it stays so after draining
   * @param duplicated extra clean records of one id, and examples trained more often than their
   *     offsets were covered
   * @param inconsistentSnapshots snapshots whose examplesSeen differs from the trainable examples
   *     their trained-through offsets cover
   */
  public record Accounting(long produced, long clean, long holdout, long trainable, long lost, long untrained,
      long duplicated, long inconsistentSnapshots, List<String> problems) {
    /** Every example trained exactly once: nothing lost, untrained, duplicated or miscounted. */
    public boolean exact() {
      return lost == 0 && untrained == 0 && duplicated == 0 && inconsistentSnapshots == 0;
    }
  }

  /** Freshness of the trainable examples: milliseconds per example served, and how many never were. */
  public record Freshness(double[] millis, long unserved) {}

  private final Map<String, Long> producedEventTimes = new HashMap<>(); // tenant/id → event time (epoch ms)
  private final List<CleanRecord> clean = new ArrayList<>();
  private final Map<String, List<SnapshotFacts>> snapshots = new HashMap<>();
  private final Map<String, List<long[]>> served = new HashMap<>(); // tenant → (time ms, version), in time order

  public synchronized void produced(String tenant, String id, long eventTimeMs) {
    producedEventTimes.put(tenant + "/" + id, eventTimeMs);
  }

  public synchronized void cleaned(CleanRecord record) {
    clean.add(record);
  }

  public synchronized void published(SnapshotFacts snapshot) {
    snapshots.computeIfAbsent(snapshot.tenant(), k -> new ArrayList<>()).add(snapshot);
  }

  /** The gateway reported serving {@code version} of {@code tenant} at {@code atMs}. */
  public synchronized void served(String tenant, long version, long atMs) {
    List<long[]> seen = served.computeIfAbsent(tenant, k -> new ArrayList<>());
    if (seen.isEmpty() || seen.get(seen.size() - 1)[1] != version) {
      seen.add(new long[] {atMs, version});
    }
  }

  /** True once the gateway was seen serving any version of {@code tenant}. */
  public synchronized boolean servedAny(String tenant) {
    return served.containsKey(tenant);
  }

  public synchronized long producedCount() {
    return producedEventTimes.size();
  }

  public synchronized List<SnapshotFacts> snapshots() {
    List<SnapshotFacts> all = new ArrayList<>();
    snapshots.values().forEach(all::addAll);
    all.sort(Comparator.comparingLong(SnapshotFacts::seenAtMs));
    return all;
  }

  /** The event time (epoch ms) the example of a clean record was produced with, or Long.MIN_VALUE if unknown. */
  public synchronized long eventTime(CleanRecord r) {
    return producedEventTimes.getOrDefault(r.tenant() + "/" + r.id(), Long.MIN_VALUE);
  }

  public synchronized List<CleanRecord> cleanRecords() {
    return List.copyOf(clean);
  }

  /** True when every trainable clean example is covered by its tenant's newest snapshot. */
  public synchronized boolean drained() {
    if (clean.size() < producedEventTimes.size()) {
      return false;
    }
    for (CleanRecord r : clean) {
      if (!r.holdout() && !covered(newest(r.tenant()), r)) {
        return false;
      }
    }
    return true;
  }

  /** Every example accounted for: see {@link Accounting}. */
  public synchronized Accounting account() {
    List<String> problems = new ArrayList<>();
    Map<String, Integer> cleanCopies = new HashMap<>();
    long holdout = 0;
    for (CleanRecord r : clean) {
      cleanCopies.merge(r.tenant() + "/" + r.id(), 1, Integer::sum);
      holdout += r.holdout() ? 1 : 0;
    }
    long lost = 0;
    long untrained = 0;
    long duplicated = 0;
    for (String key : producedEventTimes.keySet()) {
      if (!cleanCopies.containsKey(key)) {
        lost++;
        note(problems, "not in the clean topic: " + key);
      }
    }
    for (Map.Entry<String, Integer> e : cleanCopies.entrySet()) {
      if (e.getValue() > 1) {
        duplicated += e.getValue() - 1;
        note(problems, e.getValue() + " clean records of " + e.getKey());
      }
    }
    Map<String, List<CleanRecord>> trainableByTenant = new HashMap<>();
    for (CleanRecord r : clean) {
      if (!r.holdout()) {
        trainableByTenant.computeIfAbsent(r.tenant(), k -> new ArrayList<>()).add(r);
      }
    }
    Set<String> tenants = new HashSet<>(trainableByTenant.keySet());
    tenants.addAll(snapshots.keySet());
    long inconsistent = 0;
    for (String tenant : tenants) {
      List<CleanRecord> trainable = trainableByTenant.getOrDefault(tenant, List.of());
      for (SnapshotFacts s : snapshots.getOrDefault(tenant, List.of())) {
        long covered = trainable.stream().filter(r -> covered(s, r)).count();
        if (covered != s.examplesSeen()) {
          inconsistent++;
          note(problems, tenant + " v" + s.version() + ": examplesSeen " + s.examplesSeen() + " but its offsets cover "
              + covered + " trainable examples");
        }
      }
      SnapshotFacts last = newest(tenant);
      long covered = trainable.stream().filter(r -> covered(last, r)).count();
      long uncovered = trainable.size() - covered;
      if (uncovered > 0) {
        untrained += uncovered;
        note(problems, tenant + ": " + uncovered + " trainable examples beyond the newest snapshot's offsets");
      }
      long seen = last == null ? 0 : last.examplesSeen();
      if (seen > covered) {
        duplicated += seen - covered;
      } else {
        lost += covered - seen;
      }
    }
    return new Accounting(producedEventTimes.size(), clean.size(), holdout, clean.size() - holdout, lost,
        untrained, duplicated, inconsistent, problems);
  }

  /**
   * Freshness of each trainable example produced at or after {@code fromMs} and before
   * {@code toMs}: from its event time to the first moment the gateway reported serving a version
   * at least as new as the first snapshot whose trained-through offsets cover it.
   */
  public synchronized Freshness freshness(long fromMs, long toMs) {
    List<Double> values = new ArrayList<>();
    long unserved = 0;
    for (CleanRecord r : clean) {
      Long event = producedEventTimes.get(r.tenant() + "/" + r.id());
      if (r.holdout() || event == null || event < fromMs || event >= toMs) {
        continue;
      }
      Long firstVersion = snapshots.getOrDefault(r.tenant(), List.of()).stream()
          .filter(s -> covered(s, r)).map(SnapshotFacts::version).min(Long::compare).orElse(null);
      Long servedAt = firstVersion == null ? null : servedAt(r.tenant(), firstVersion);
      if (servedAt == null) {
        unserved++;
      } else {
        values.add((double) (servedAt - event));
      }
    }
    return new Freshness(values.stream().mapToDouble(Double::doubleValue).toArray(), unserved);
  }

  private Long servedAt(String tenant, long version) {
    for (long[] seen : served.getOrDefault(tenant, List.of())) {
      if (seen[1] >= version) {
        return seen[0];
      }
    }
    return null;
  }

  private SnapshotFacts newest(String tenant) {
    return snapshots.getOrDefault(tenant, List.of()).stream()
        .max(Comparator.comparingLong(SnapshotFacts::version)).orElse(null);
  }

  private static boolean covered(SnapshotFacts snapshot, CleanRecord r) {
    if (snapshot == null) {
      return false;
    }
    Long next = snapshot.trainedThrough().get(r.partition());
    return next != null && r.offset() < next;
  }

  private static void note(List<String> problems, String problem) {
    if (problems.size() < 20) {
      problems.add(problem);
    }
  }
}
