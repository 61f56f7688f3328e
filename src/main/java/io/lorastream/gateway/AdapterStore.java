package io.lorastream.gateway;

import io.lorastream.avro.AdapterSnapshot;
import io.lorastream.contract.Bytes;
import io.lorastream.contract.Sha256;
import io.lorastream.metrics.Metrics;
import io.lorastream.model.BaseModel;
import io.lorastream.model.LoraAdapter;
import io.lorastream.model.LoraConfig;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The newest good adapters of every tenant (the last {@code versionsKept} versions, newest first,
 * so a request may pin {@code tenant@version}). A snapshot is applied only after its weights digest
 * and base model digest check out and its weights load; otherwise it is counted as rejected and the
 * previous version keeps serving. Dropped adapters are handed to {@code retire}, which closes them
 * once no running request can still use them.
 */
public final class AdapterStore {
  private static final Logger log = LoggerFactory.getLogger(AdapterStore.class);

  private final BaseModel base;
  private final Metrics metrics;
  private final Consumer<AutoCloseable> retire;
  private final int versionsKept;
  // Per tenant: served versions, newest first; replaced as a whole (copy on write).
  private final Map<String, List<ServedAdapter>> adapters = new ConcurrentHashMap<>();

  public AdapterStore(BaseModel base, Metrics metrics, Consumer<AutoCloseable> retire, int versionsKept) {
    if (versionsKept < 1) {
      throw new IllegalArgumentException("versionsKept must be at least 1");
    }
    this.base = base;
    this.metrics = metrics;
    this.retire = retire;
    this.versionsKept = versionsKept;
  }

  public AdapterStore(BaseModel base, Metrics metrics, Consumer<AutoCloseable> retire) {
    this(base, metrics, retire, 2);
  }

  /** The newest version of a tenant's adapter. */
  public Optional<ServedAdapter> get(String tenant) {
    List<ServedAdapter> versions = adapters.get(tenant);
    return versions == null ? Optional.empty() : Optional.of(versions.get(0));
  }

  /** A specific version, while it is still held. */
  public Optional<ServedAdapter> get(String tenant, long version) {
    List<ServedAdapter> versions = adapters.getOrDefault(tenant, List.of());
    return versions.stream().filter(a -> a.version() == version).findFirst();
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
    LoraAdapter adapter;
    try {
      LoraConfig config = new LoraConfig(snapshot.getRank(), snapshot.getAlpha(),
          List.copyOf(snapshot.getTargetModules()), 0f, snapshot.getUseRslora());
      adapter = LoraAdapter.fromPeftSafetensors(weights, config, base);
    } catch (RuntimeException e) {
      return reject(snapshot, "unloadable", e.getMessage());
    }
    AdapterSnapshot facts = AdapterSnapshot.newBuilder(snapshot).setWeights(ByteBuffer.allocate(0)).build();
    List<ServedAdapter> versions = new ArrayList<>(versionsKept);
    versions.add(new ServedAdapter(adapter, facts));
    List<ServedAdapter> older = adapters.getOrDefault(tenant, List.of());
    for (ServedAdapter old : older) {
      if (versions.size() < versionsKept) {
        versions.add(old);
      } else {
        retire.accept(old.adapter());
      }
    }
    adapters.put(tenant, List.copyOf(versions));
    metrics.gatewaySnapshotsApplied.inc();
    metrics.gatewayAdaptersResident.set(adapters.size());
    log.debug("serving tenant {} v{}", tenant, snapshot.getVersion());
    return true;
  }

  /** A tombstone: the tenant is removed. */
  public void remove(String tenant) {
    List<ServedAdapter> previous = adapters.remove(tenant);
    if (previous != null) {
      previous.forEach(a -> retire.accept(a.adapter()));
      metrics.gatewayAdaptersResident.set(adapters.size());
      log.info("tenant {} removed", tenant);
    }
  }

  private boolean reject(AdapterSnapshot snapshot, String reason, String detail) {
    metrics.gatewaySnapshotsRejected.labelValues(reason).inc();
    log.warn("refused snapshot {} v{} ({}): {}", snapshot.getTenant(), snapshot.getVersion(), reason, detail);
    return false;
  }

}
