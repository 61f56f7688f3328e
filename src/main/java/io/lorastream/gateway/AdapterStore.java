package io.lorastream.gateway;

import io.lorastream.avro.AdapterSnapshot;
import io.lorastream.contract.Bytes;
import io.lorastream.contract.Sha256;
import io.lorastream.metrics.Metrics;
import io.lorastream.model.BaseModel;
import io.lorastream.model.LoraAdapter;
import io.lorastream.model.LoraConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The served versions of every tenant's adapter (the last {@code versionsKept}, newest first, so a
 * request may pin {@code tenant@version}), with their weights on local disk. A snapshot is applied
 * only after its base model digest and weights digest check out and its weights load; otherwise it
 * is counted as rejected and the previous version keeps serving. Loaded weights are handed to the
 * {@link AdapterEvents} receiver, which keeps the hot ones in memory.
 */
public final class AdapterStore {
  private static final Logger log = LoggerFactory.getLogger(AdapterStore.class);

  private final BaseModel base;
  private final Metrics metrics;
  private final AdapterEvents events;
  private final Path directory;
  private final int versionsKept;
  // Per tenant: served versions, newest first; replaced as a whole (copy on write).
  private final Map<String, List<ServedAdapter>> adapters = new ConcurrentHashMap<>();

  AdapterStore(BaseModel base, Metrics metrics, AdapterEvents events, Path directory, int versionsKept) {
    if (versionsKept < 1) {
      throw new IllegalArgumentException("versionsKept must be at least 1");
    }
    this.base = base;
    this.metrics = metrics;
    this.events = events;
    this.directory = directory;
    this.versionsKept = versionsKept;
    try {
      Files.createDirectories(directory);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create the adapter folder " + directory, e);
    }
  }

  /** The newest version of a tenant's adapter. */
  public Optional<ServedAdapter> get(String tenant) {
    List<ServedAdapter> versions = adapters.get(tenant);
    return versions == null ? Optional.empty() : Optional.of(versions.get(0));
  }

  /** A specific version, while it is still held. */
  public Optional<ServedAdapter> get(String tenant, long version) {
    return adapters.getOrDefault(tenant, List.of()).stream().filter(a -> a.version() == version).findFirst();
  }

  /** The newest version of every tenant. */
  public Collection<ServedAdapter> all() {
    return adapters.values().stream().map(v -> v.get(0)).toList();
  }

  /** Applies a snapshot; returns false (and keeps the current version) when it is refused. */
  public boolean apply(AdapterSnapshot snapshot) {
    String tenant = snapshot.getTenant();
    ServedAdapter current = get(tenant).orElse(null);
    if (current != null && snapshot.getVersion() <= current.version()) {
      return reject(snapshot, "stale", "version " + snapshot.getVersion() + " is not newer than " + current.version());
    }
    if (!base.weightsSha256().equals(snapshot.getBaseModelSha256())) {
      return reject(snapshot, "foreign-base", "trained on base model " + snapshot.getBaseModelSha256()
          + ", this gateway serves " + base.weightsSha256());
    }
    byte[] weights = Bytes.of(snapshot.getWeights());
    if (!Sha256.hex(weights).equals(snapshot.getWeightsSha256())) {
      return reject(snapshot, "digest-mismatch", "weights do not match weightsSha256");
    }
    LoraConfig config;
    LoraAdapter adapter;
    try {
      config = new LoraConfig(snapshot.getRank(), snapshot.getAlpha(), List.copyOf(snapshot.getTargetModules()), 0f,
          snapshot.getUseRslora(),
          snapshot.getLayersToTransform() == null ? null : List.copyOf(snapshot.getLayersToTransform()));
      adapter = LoraAdapter.fromPeftSafetensors(weights, config, base);
    } catch (RuntimeException e) {
      return reject(snapshot, "unloadable", e.getMessage());
    }
    AdapterSnapshot facts = AdapterSnapshot.newBuilder(snapshot).setWeights(ByteBuffer.allocate(0)).build();
    ServedAdapter served = new ServedAdapter(facts, config, write(tenant, snapshot.getVersion(), weights),
        weights.length);
    events.verified(served, adapter);

    List<ServedAdapter> versions = new ArrayList<>(versionsKept);
    versions.add(served);
    for (ServedAdapter old : adapters.getOrDefault(tenant, List.of())) {
      if (versions.size() < versionsKept) {
        versions.add(old);
      } else {
        events.dropped(old);
      }
    }
    adapters.put(tenant, List.copyOf(versions));
    metrics.gatewaySnapshotsApplied.inc();
    metrics.gatewayAdaptersServed.set(adapters.size());
    log.debug("serving tenant {} v{}", tenant, snapshot.getVersion());
    return true;
  }

  /** A tombstone: the tenant is removed. */
  public void remove(String tenant) {
    List<ServedAdapter> previous = adapters.remove(tenant);
    if (previous != null) {
      previous.forEach(events::dropped);
      metrics.gatewayAdaptersServed.set(adapters.size());
      log.info("tenant {} removed", tenant);
    }
  }

  /**
   * Deletes the weights files of every held version (and the folder, when that leaves it empty).
   * Called when the gateway stops: the adapters topic is the source of truth, read again at start.
   */
  void deleteFiles() {
    for (List<ServedAdapter> versions : adapters.values()) {
      for (ServedAdapter served : versions) {
        try {
          Files.deleteIfExists(served.weightsFile());
        } catch (IOException e) {
          log.debug("could not delete {}: {}", served.weightsFile(), e.toString());
        }
      }
    }
    adapters.clear();
    try (var left = Files.list(directory)) {
      if (left.findAny().isEmpty()) {
        Files.delete(directory);
      }
    } catch (IOException e) {
      log.debug("could not delete {}: {}", directory, e.toString());
    }
  }

  /** A record on the adapters topic that is not a snapshot at all. */
  void rejectUndecodable(String reason) {
    metrics.gatewaySnapshotsRejected.labelValues("undecodable").inc();
    log.warn("unreadable snapshot: {}", reason);
  }

  private Path write(String tenant, long version, byte[] weights) {
    Path file = directory.resolve(tenant + "@" + version + ".safetensors");
    try {
      Path tmp = Files.createTempFile(directory, tenant, ".tmp");
      Files.write(tmp, weights);
      return Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write adapter " + file, e);
    }
  }

  private boolean reject(AdapterSnapshot snapshot, String reason, String detail) {
    metrics.gatewaySnapshotsRejected.labelValues(reason).inc();
    log.warn("refused snapshot {} v{} ({}): {}", snapshot.getTenant(), snapshot.getVersion(), reason, detail);
    return false;
  }
}
