package io.lorastream.gateway;

import io.lorastream.avro.AdapterSnapshot;
import io.lorastream.model.LoraAdapter;

/**
 * A tenant's adapter as served: the loaded weights and the snapshot's facts.
 *
 * @param snapshot the published snapshot with its weights bytes left out (they live in {@code adapter})
 */
record ServedAdapter(LoraAdapter adapter, AdapterSnapshot snapshot) {
  String tenant() {
    return snapshot.getTenant();
  }

  long version() {
    return snapshot.getVersion();
  }
}
