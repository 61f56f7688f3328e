package io.lorastream.train;

import java.util.List;

/** Examples of one tenant trained together in one step, in offset order. */
record MicroBatch(String tenant, List<PendingExample> examples) {
  MicroBatch {
    examples = List.copyOf(examples);
    if (examples.isEmpty()) {
      throw new IllegalArgumentException("a micro-batch needs at least one example");
    }
  }
}
