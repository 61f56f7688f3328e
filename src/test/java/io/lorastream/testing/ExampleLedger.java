package io.lorastream.testing;

import io.lorastream.avro.TrainedOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Accounts for every input example from what a trainer committed, in commit order: each record
 * (snapshot or checkpoint) moves a tenant's trained-through offset forward, and the input examples
 * of that tenant it moves past are counted as trained once more. A trainer that lost an example
 * leaves it at zero; one that trained an example twice (resumed from an older state and trained
 * again) counts it twice. The examples-seen counter of each record must grow by exactly the
 * examples its offsets moved past.
 */
public final class ExampleLedger {
  /** Per tenant: offset of each of its input examples → times trained. */
  private final Map<String, TreeMap<Long, Integer>> trained = new HashMap<>();
  private final Map<String, Long> nextOffset = new HashMap<>();
  private final Map<String, Long> examplesSeen = new HashMap<>();
  private final List<String> inconsistencies = new ArrayList<>();

  /** @param inputOffsets per tenant, the offsets of its examples in the (single) input partition it lives in */
  public ExampleLedger(Map<String, List<Long>> inputOffsets) {
    inputOffsets.forEach((tenant, offsets) -> {
      TreeMap<Long, Integer> counts = new TreeMap<>();
      offsets.forEach(o -> counts.put(o, 0));
      trained.put(tenant, counts);
      nextOffset.put(tenant, 0L);
      examplesSeen.put(tenant, 0L);
    });
  }

  /** One committed record of {@code tenant}, in the order it was committed. */
  public void record(String tenant, List<TrainedOffset> trainedThrough, long seen) {
    if (trainedThrough.size() != 1) {
      inconsistencies.add(tenant + ": trained through " + trainedThrough.size() + " partitions, expected 1");
      return;
    }
    long from = nextOffset.get(tenant);
    long to = trainedThrough.get(0).getNextOffset();
    if (to < from) {
      // Went back: what it trains from here on is counted again.
      from = to;
      long counted = trained.get(tenant).headMap(to).size();
      examplesSeen.put(tenant, (long) counted);
    }
    Map<Long, Integer> passed = trained.get(tenant).subMap(from, to);
    passed.replaceAll((offset, times) -> times + 1);
    long expectedSeen = examplesSeen.get(tenant) + passed.size();
    if (seen != expectedSeen) {
      inconsistencies.add(tenant + ": examplesSeen " + seen + " where the offsets moved past " + expectedSeen);
    }
    nextOffset.put(tenant, to);
    examplesSeen.put(tenant, seen);
  }

  /** Input examples no committed record moved past. */
  public long lost() {
    return trained.values().stream().flatMap(m -> m.values().stream()).filter(times -> times == 0).count();
  }

  /** Input examples moved past more than once. */
  public long duplicated() {
    return trained.values().stream().flatMap(m -> m.values().stream()).filter(times -> times > 1).count();
  }

  public long examples() {
    return trained.values().stream().mapToLong(Map::size).sum();
  }

  public List<String> inconsistencies() {
    return inconsistencies;
  }
}
