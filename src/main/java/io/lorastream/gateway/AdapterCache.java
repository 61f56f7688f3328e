package io.lorastream.gateway;

import io.lorastream.metrics.Metrics;
import io.lorastream.model.BaseModel;
import io.lorastream.model.LoraAdapter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Loaded adapters within a byte budget, least recently used evicted first; the rest stay on local
 * disk and are loaded on first use (a cold load). Confined to the inference thread: only that
 * thread loads, uses and closes adapters, so none is closed while a request still uses it.
 */
final class AdapterCache implements AutoCloseable {
  private final BaseModel base;
  private final long budgetBytes;
  private final Metrics metrics;
  // Access-ordered: iteration starts at the least recently used.
  private final LinkedHashMap<String, Entry> loaded = new LinkedHashMap<>(64, 0.75f, true);
  private long residentBytes;

  private static final class Entry {
    final LoraAdapter adapter;
    final long bytes;
    int inUse;
    boolean forgotten;

    Entry(LoraAdapter adapter, long bytes) {
      this.adapter = adapter;
      this.bytes = bytes;
    }
  }

  AdapterCache(BaseModel base, long budgetBytes, Metrics metrics) {
    this.base = base;
    this.budgetBytes = budgetBytes;
    this.metrics = metrics;
  }

  /** The loaded adapter of this version, loading it from disk if needed; pair with {@link #release}. */
  LoraAdapter acquire(ServedAdapter served) {
    Entry entry = loaded.get(served.key());
    if (entry == null) {
      long started = System.nanoTime();
      byte[] weights;
      try {
        weights = Files.readAllBytes(served.weightsFile());
      } catch (IOException e) {
        throw new UncheckedIOException("adapter " + served.key() + " is no longer on disk", e);
      }
      entry = put(served, LoraAdapter.fromPeftSafetensors(weights, served.config(), base));
      metrics.gatewayColdLoads.inc();
      metrics.gatewayColdLoadSeconds.observe((System.nanoTime() - started) / 1e9);
    }
    entry.inUse++;
    return entry.adapter;
  }

  void release(ServedAdapter served) {
    Entry entry = loaded.get(served.key());
    if (entry != null && --entry.inUse == 0 && entry.forgotten) {
      remove(served.key());
    }
  }

  /** Keeps an adapter just loaded elsewhere (when its snapshot was verified) as hot. */
  void preload(ServedAdapter served, LoraAdapter adapter) {
    if (loaded.containsKey(served.key())) {
      adapter.close();
      return;
    }
    put(served, adapter);
  }

  /** This version is no longer served: drop it from memory (once unused) and from disk. */
  void forget(ServedAdapter served) {
    Entry entry = loaded.get(served.key());
    if (entry != null) {
      entry.forgotten = true;
      if (entry.inUse == 0) {
        remove(served.key());
      }
    }
    try {
      Files.deleteIfExists(served.weightsFile());
    } catch (IOException e) {
      // a stale file in the cache folder is harmless
    }
  }

  long residentBytes() {
    return residentBytes;
  }

  int residentCount() {
    return loaded.size();
  }

  private Entry put(ServedAdapter served, LoraAdapter adapter) {
    Entry entry = new Entry(adapter, served.weightsBytes());
    loaded.put(served.key(), entry);
    residentBytes += entry.bytes;
    evictOverBudget(served.key());
    metrics.gatewayAdaptersResident.set(loaded.size());
    return entry;
  }

  /** Evicts unused adapters, least recently used first, until within budget; never {@code keep}. */
  private void evictOverBudget(String keep) {
    Iterator<Map.Entry<String, Entry>> it = loaded.entrySet().iterator();
    while (residentBytes > budgetBytes && it.hasNext()) {
      Map.Entry<String, Entry> e = it.next();
      if (e.getValue().inUse == 0 && !e.getKey().equals(keep)) {
        it.remove();
        residentBytes -= e.getValue().bytes;
        e.getValue().adapter.close();
      }
    }
  }

  private void remove(String key) {
    Entry entry = loaded.remove(key);
    if (entry != null) {
      residentBytes -= entry.bytes;
      entry.adapter.close();
      metrics.gatewayAdaptersResident.set(loaded.size());
    }
  }

  @Override
  public void close() {
    loaded.values().forEach(e -> e.adapter.close());
    loaded.clear();
    residentBytes = 0;
  }
}
