package io.lorastream.train;

import io.lorastream.avro.AdapterCheckpoint;
import io.lorastream.avro.KeptVersion;
import io.lorastream.kafka.Topics;
import java.util.Map;
import java.util.Optional;

/**
 * What the checkpoints topic holds once read to its end: the newest checkpoint of every tenant and
 * the weights of every kept published version (by {@link Topics#keptVersionKey}).
 */
record CommittedCheckpoints(Map<String, AdapterCheckpoint> tenants, Map<String, KeptVersion> versions) {
  static final CommittedCheckpoints NONE = new CommittedCheckpoints(Map.of(), Map.of());

  CommittedCheckpoints {
    tenants = Map.copyOf(tenants);
    versions = Map.copyOf(versions);
  }

  /** Where a restored tenant finds the weights of its kept versions. */
  KeptVersionWeights weightsOf(String tenant) {
    return version -> Optional.ofNullable(versions.get(Topics.keptVersionKey(tenant, version)));
  }
}
