package io.lorastream.gateway;

import io.lorastream.model.LoraAdapter;

/** What the {@link AdapterStore} tells the thread that owns loaded adapters. */
interface AdapterEvents {
  /** A new version was verified; {@code adapter} is its loaded weights, now owned by the receiver. */
  void verified(ServedAdapter served, LoraAdapter adapter);

  /** A version is no longer served (replaced beyond the versions kept, or its tenant removed). */
  void dropped(ServedAdapter served);
}
