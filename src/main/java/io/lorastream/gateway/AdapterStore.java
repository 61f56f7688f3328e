package io.lorastream.gateway;

import io.lorastream.avro.AdapterSnapshot;
import io.lorastream.contract.Sha256;
import io.lorastream.metrics.Metrics;
import io.lorastream.model.BaseModel;
import io.lorastream.model.LoraAdapter;
import io.lorastream.model.LoraConfig;
import java.nio.ByteBuffer;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The newest good adapter of every tenant. A snapshot is applied only after its weights digest and
 * base model digest check out and its weights load; otherwise it is counted as rejected and the
 * previous version keeps serving. Replaced adapters are handed to {@code retire}, which closes them
 * once no running request can still use them.
 */
public final class AdapterStore {
  private static final Logger log = LoggerFactory.getLogger(AdapterStore.class);

  private final BaseModel base;
  private final Metrics metrics;
  private final Consumer<AutoCloseable> retire;
  private final Map<String, ServedAdapter> adapters = new ConcurrentHashMap<>();

  public AdapterStore(BaseModel base, Metrics metrics, Consumer<AutoCloseable> retire) {
    this.base = base;
    this.metrics = metrics;
    this.retire = retire;
  }

  public Optional<ServedAdapter> get(String tenant) {
    return Optional.ofNullable(adapters.get(tenant));
  }

  public Collection<ServedAdapter> all() {
    return List.copyOf(adapters.values());
  }

  /** Applies a snapshot; returns false (and keeps the current version) when it is refused. */
  public boolean apply(AdapterSnapshot snapshot) {
    String tenant = snapshot.getTenant();
    ServedAdapter current = adapters.get(tenant);
    if (current != null && snapshot.getVersion() <= current.version()) {
      return reject(snapshot, "stale", "version " + snapshot.getVersion() + " is not newer than " + current.version());
    }
    if (!base.weightsSha256().equals(snapshot.getBaseModelSha256())) {
      return reject(snapshot, "foreign-base", "trained on base model " + snapshot.getBaseModelSha256()
          + ", this gateway serves " + base.weightsSha256());
    }
    byte[] weights = bytes(snapshot.getWeights());
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
    ServedAdapter served = new ServedAdapter(tenant, snapshot.getVersion(), adapter, snapshot.getWeightsSha256(),
        snapshot.getExamplesSeen(), snapshot.getTrainLoss(), snapshot.getCreatedAt().toEpochMilli());
    ServedAdapter previous = adapters.put(tenant, served);
    if (previous != null) {
      retire.accept(previous.adapter());
    }
    metrics.gatewaySnapshotsApplied.inc();
    metrics.gatewayAdaptersResident.set(adapters.size());
    log.debug("serving tenant {} v{}", tenant, snapshot.getVersion());
    return true;
  }

  /** A tombstone: the tenant is removed. */
  public void remove(String tenant) {
    ServedAdapter previous = adapters.remove(tenant);
    if (previous != null) {
      retire.accept(previous.adapter());
      metrics.gatewayAdaptersResident.set(adapters.size());
      log.info("tenant {} removed", tenant);
    }
  }

  private boolean reject(AdapterSnapshot snapshot, String reason, String detail) {
    metrics.gatewaySnapshotsRejected.labelValues(reason).inc();
    log.warn("refused snapshot {} v{} ({}): {}", snapshot.getTenant(), snapshot.getVersion(), reason, detail);
    return false;
  }

  private static byte[] bytes(ByteBuffer buffer) {
    ByteBuffer b = buffer.duplicate();
    byte[] out = new byte[b.remaining()];
    b.get(out);
    return out;
  }
}
