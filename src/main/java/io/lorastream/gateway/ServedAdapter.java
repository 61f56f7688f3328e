package io.lorastream.gateway;

import io.lorastream.model.LoraAdapter;

/**
 * A tenant's adapter as served: the loaded weights and the snapshot facts shown to users.
 *
 * @param trainLoss null when the snapshot carried none
 * @param createdAtMillis when the trainer published this version (epoch ms)
 */
record ServedAdapter(String tenant, long version, LoraAdapter adapter, String weightsSha256, long examplesSeen,
    Float trainLoss, long createdAtMillis) {}
