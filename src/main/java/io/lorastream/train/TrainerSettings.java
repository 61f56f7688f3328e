package io.lorastream.train;

import io.lorastream.model.LoraConfig;
import io.lorastream.model.TrainingSettings;
import java.time.Duration;
import java.util.Objects;

/**
 * How the continual trainer forms micro-batches and publishes.
 *
 * @param groupId consumer group shared by all trainer instances (scale out = more instances)
 * @param instanceId unique per instance; makes the transactional id
 * @param batchSize a tenant's micro-batch closes when it holds this many examples
 * @param batchMaxWait ... or when its oldest example has waited this long
 * @param seed seed of every new tenant's adapter initialisation
 * @param lora LoRA settings of new adapters
 * @param training optimizer settings
 */
public record TrainerSettings(
    String groupId,
    String instanceId,
    int batchSize,
    Duration batchMaxWait,
    long seed,
    LoraConfig lora,
    TrainingSettings training) {

  public TrainerSettings {
    Objects.requireNonNull(groupId, "groupId");
    Objects.requireNonNull(instanceId, "instanceId");
    Objects.requireNonNull(batchMaxWait, "batchMaxWait");
    Objects.requireNonNull(lora, "lora");
    Objects.requireNonNull(training, "training");
    if (batchSize < 1) {
      throw new IllegalArgumentException("batch size must be at least 1, got " + batchSize);
    }
    if (batchMaxWait.isNegative()) {
      throw new IllegalArgumentException("batch max wait must not be negative, got " + batchMaxWait);
    }
  }

  public static TrainerSettings defaults() {
    return new TrainerSettings(
        "lorastream-trainer", "trainer-0", 8, Duration.ofMillis(1000), 42L,
        LoraConfig.defaults(), TrainingSettings.defaults());
  }

  public TrainerSettings withInstanceId(String id) {
    return new TrainerSettings(groupId, id, batchSize, batchMaxWait, seed, lora, training);
  }

  public TrainerSettings withBatching(int size, Duration maxWait) {
    return new TrainerSettings(groupId, instanceId, size, maxWait, seed, lora, training);
  }

  /** The Kafka transactional id: stable per instance so a restarted instance fences its zombie. */
  public String transactionalId() {
    return groupId + "-" + instanceId;
  }
}
