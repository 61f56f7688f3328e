package io.lorastream.train;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import org.apache.kafka.common.TopicPartition;

/**
 * Per-tenant buffers of consumed examples. A tenant's micro-batch is ready when it holds
 * {@code batchSize} examples or its oldest example has waited {@code maxWait}.
 *
 * <p>Fairness: each call to {@link #takeReady} takes at most one micro-batch per tenant, and tenants
 * are visited in the order they last became non-empty, so one busy tenant cannot starve the others:
 * every ready tenant gets one step per round.
 */
final class MicroBatcher {
  private final int batchSize;
  private final long maxWaitMillis;
  // Insertion-ordered: a tenant moves to the back when it is served.
  private final Map<String, Deque<PendingExample>> buffers = new LinkedHashMap<>();

  MicroBatcher(int batchSize, Duration maxWait) {
    this.batchSize = batchSize;
    this.maxWaitMillis = maxWait.toMillis();
  }

  void add(PendingExample example) {
    buffers.computeIfAbsent(example.example().getTenant(), t -> new ArrayDeque<>()).addLast(example);
  }

  /** One micro-batch for each tenant that is ready at {@code nowMillis}, removed from the buffers. */
  List<MicroBatch> takeReady(long nowMillis) {
    List<MicroBatch> ready = new ArrayList<>();
    List<String> served = new ArrayList<>();
    for (Map.Entry<String, Deque<PendingExample>> entry : buffers.entrySet()) {
      Deque<PendingExample> buffer = entry.getValue();
      boolean full = buffer.size() >= batchSize;
      boolean old = !buffer.isEmpty() && nowMillis - buffer.peekFirst().waitingSinceMillis() >= maxWaitMillis;
      if (full || old) {
        List<PendingExample> batch = new ArrayList<>(batchSize);
        while (batch.size() < batchSize && !buffer.isEmpty()) {
          batch.add(buffer.pollFirst());
        }
        ready.add(new MicroBatch(entry.getKey(), batch));
        served.add(entry.getKey());
      }
    }
    for (String tenant : served) {
      Deque<PendingExample> rest = buffers.remove(tenant);
      if (!rest.isEmpty()) {
        buffers.put(tenant, rest);
      }
    }
    return ready;
  }

  /**
   * Takes everything buffered for {@code tenant} now, in micro-batches of at most batchSize, oldest
   * first: what must train before a control record of that tenant applies.
   */
  List<MicroBatch> drain(String tenant) {
    Deque<PendingExample> buffer = buffers.remove(tenant);
    List<MicroBatch> batches = new ArrayList<>();
    while (buffer != null && !buffer.isEmpty()) {
      List<PendingExample> batch = new ArrayList<>(batchSize);
      while (batch.size() < batchSize && !buffer.isEmpty()) {
        batch.add(buffer.pollFirst());
      }
      batches.add(new MicroBatch(tenant, batch));
    }
    return batches;
  }

  /** The smallest buffered offset of this partition: nothing at or after it may be committed yet. */
  OptionalLong oldestOffset(TopicPartition partition) {
    long min = Long.MAX_VALUE;
    for (Deque<PendingExample> buffer : buffers.values()) {
      for (PendingExample p : buffer) {
        if (p.partition().equals(partition) && p.offset() < min) {
          min = p.offset();
        }
      }
    }
    return min == Long.MAX_VALUE ? OptionalLong.empty() : OptionalLong.of(min);
  }

  /** Forgets buffered examples of partitions this instance no longer owns (they will be re-read). */
  void drop(Collection<TopicPartition> partitions) {
    Iterator<Deque<PendingExample>> it = buffers.values().iterator();
    while (it.hasNext()) {
      Deque<PendingExample> buffer = it.next();
      buffer.removeIf(p -> partitions.contains(p.partition()));
      if (buffer.isEmpty()) {
        it.remove();
      }
    }
  }

  void clear() {
    buffers.clear();
  }

  int bufferedCount() {
    return buffers.values().stream().mapToInt(Deque::size).sum();
  }
}
