package io.lorastream.gateway;

import io.lorastream.avro.AdapterSnapshot;
import io.lorastream.model.LoraConfig;
import java.nio.file.Path;

/**
 * One verified version of a tenant's adapter: the snapshot's facts and where its weights lie on
 * local disk. The loaded weights live in the {@link AdapterCache} while they are hot.
 *
 * @param snapshot the published snapshot with its weights bytes left out
 * @param weightsFile the PEFT safetensors file of this version
 * @param weightsBytes its size in bytes (what it costs in memory when loaded)
 */
record ServedAdapter(AdapterSnapshot snapshot, LoraConfig config, Path weightsFile, long weightsBytes) {
  String tenant() {
    return snapshot.getTenant();
  }

  long version() {
    return snapshot.getVersion();
  }

  /** {@code tenant@version}: unique per adapter version. */
  String key() {
    return tenant() + "@" + version();
  }
}
