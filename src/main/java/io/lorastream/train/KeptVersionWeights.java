package io.lorastream.train;

import io.lorastream.avro.KeptVersion;
import java.util.Optional;

/** Looks up the weights record of one of a tenant's kept published versions. */
@FunctionalInterface
interface KeptVersionWeights {
  /** The tenant's {@code version} as written when it was published; empty when unknown. */
  Optional<KeptVersion> find(long version);

  /** Knows no version: for checkpoints written before versions were kept as their own records. */
  KeptVersionWeights NONE = version -> Optional.empty();
}
