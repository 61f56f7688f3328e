package io.lorastream.train;

import io.lorastream.avro.AdapterCheckpoint;
import io.lorastream.avro.AdapterSnapshot;
import io.lorastream.avro.KeptVersion;
import io.lorastream.avro.KeptVersionInfo;
import io.lorastream.avro.PublishedVersion;
import io.lorastream.avro.TrainedOffset;
import io.lorastream.contract.Bytes;
import io.lorastream.contract.Sha256;
import io.lorastream.model.BaseModel;
import io.lorastream.model.LoraAdapter;
import io.lorastream.model.LoraConfig;
import io.lorastream.model.LoraTrainer;
import io.lorastream.model.TrainingSettings;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Creates tenant states fresh or from checkpoints, and turns them into checkpoints and snapshots. */
final class TenantStates {
  private static final Logger log = LoggerFactory.getLogger(TenantStates.class);

  private final BaseModel base;
  private final TrainerSettings settings;

  TenantStates(BaseModel base, TrainerSettings settings) {
    this.base = base;
    this.settings = settings;
  }

  TenantState fresh(String tenant) {
    // Each tenant's initialisation depends only on the seed and its id, so it is reproducible.
    long seed = settings.seed() ^ tenant.hashCode();
    LoraAdapter adapter = LoraAdapter.initialise(base, settings.lora(), seed);
    return new TenantState(tenant, adapter, new LoraTrainer(base, adapter, settings.training()),
        Map.of(), 0, 0, null);
  }

  /**
   * The tenant's state as {@code checkpoint} left it. Its kept versions' weights come from
   * {@code versions} (their own records); a checkpoint written before that carries them inside, and
   * they are written as their own records with the tenant's next checkpoint. A version whose record
   * is missing or does not match its digest is left out (a rollback to it is refused).
   */
  TenantState restore(AdapterCheckpoint checkpoint, KeptVersionWeights versions) {
    if (!checkpoint.getBaseModelSha256().equals(base.weightsSha256())) {
      throw new IllegalStateException("checkpoint of tenant " + checkpoint.getTenant()
          + " was trained on base model " + checkpoint.getBaseModelSha256()
          + ", this trainer runs " + base.weightsSha256());
    }
    LoraConfig lora = new LoraConfig(checkpoint.getRank(), checkpoint.getAlpha(),
        List.copyOf(checkpoint.getTargetModules()), settings.lora().dropout(), checkpoint.getUseRslora(),
        checkpoint.getLayersToTransform() == null ? null : List.copyOf(checkpoint.getLayersToTransform()));
    LoraAdapter adapter = LoraAdapter.fromPeftSafetensors(weightsOf(checkpoint, versions), lora, base);
    TrainingSettings training = settings.training();
    LoraTrainer trainer = new LoraTrainer(base, adapter, training);
    trainer.restoreOptimizerState(Bytes.of(checkpoint.getOptimizerState()), checkpoint.getStep());
    Map<TopicPartition, Long> through = new HashMap<>();
    for (TrainedOffset t : checkpoint.getTrainedThrough()) {
      through.put(new TopicPartition(t.getTopic(), t.getPartition()), t.getNextOffset());
    }
    TenantState state = new TenantState(checkpoint.getTenant(), adapter, trainer, through,
        checkpoint.getExamplesSeen(), checkpoint.getPublishedVersion(), null);
    checkpoint.getHoldout().forEach(state::keepHoldout);
    checkpoint.getRecentVersions().forEach(v -> state.rememberVersion(v, Integer.MAX_VALUE));
    for (KeptVersionInfo info : checkpoint.getKeptVersions()) {
      Optional<KeptVersion> kept = versions.find(info.getVersion());
      if (kept.isEmpty() || !kept.get().getWeightsSha256().equals(info.getWeightsSha256())) {
        log.warn("tenant {}: weights of kept version {} {}; it cannot be rolled back to", checkpoint.getTenant(),
            info.getVersion(), kept.isEmpty() ? "not found" : "do not match its digest");
        continue;
      }
      state.restoreVersion(new PublishedVersion(info.getVersion(), kept.get().getWeights(), info.getWeightsSha256(),
          info.getExamplesSeen(), info.getCreatedAt()));
    }
    state.stepsSincePublish = checkpoint.getStepsSincePublish();
    state.publishedAt = checkpoint.getPublishedAt() == null ? null : checkpoint.getPublishedAt().toEpochMilli();
    state.lastCheckpoint = checkpoint;
    return state;
  }

  /** The checkpoint's current weights: its own, or those of the kept version it names. */
  private static byte[] weightsOf(AdapterCheckpoint checkpoint, KeptVersionWeights versions) {
    Long version = checkpoint.getWeightsVersion();
    if (version == null) {
      return Bytes.of(checkpoint.getWeights());
    }
    String digest = checkpoint.getKeptVersions().stream().filter(v -> v.getVersion() == version)
        .map(KeptVersionInfo::getWeightsSha256).findFirst().orElse(null);
    Optional<KeptVersion> kept = versions.find(version);
    if (kept.isEmpty() || !kept.get().getWeightsSha256().equals(digest)) {
      throw new IllegalStateException("checkpoint of tenant " + checkpoint.getTenant() + " names the weights of kept "
          + "version " + version + ", whose record " + (kept.isEmpty() ? "is missing" : "does not match its digest"));
    }
    return Bytes.of(kept.get().getWeights());
  }

  /**
   * A state that continues {@code current}'s bookkeeping (offsets, versions, holdout) from other
   * weights with a fresh optimizer: a rollback or an imported adapter. {@code current} is not closed.
   */
  TenantState withWeights(TenantState current, byte[] peftSafetensors, LoraConfig lora) {
    LoraAdapter adapter = LoraAdapter.fromPeftSafetensors(peftSafetensors, lora, base);
    TenantState state = new TenantState(current.tenant, adapter, new LoraTrainer(base, adapter, settings.training()),
        current.trainedThrough, current.examplesSeen, current.publishedVersion, current.newestEventTime);
    state.copyEvaluationStateFrom(current);
    state.stepsSincePublish = current.stepsSincePublish;
    state.publishedAt = current.publishedAt;
    state.lastCheckpoint = current.lastCheckpoint;
    return state;
  }

  AdapterCheckpoint checkpoint(TenantState state, byte[] weights, long nowMillis) {
    return checkpoint(state, weights, null, nowMillis);
  }

  /**
   * As {@link #checkpoint(TenantState, byte[], long)}; with {@code weightsVersion} set, the weights
   * are left out and named by that kept version, whose record the same transaction writes (a step
   * that publishes writes its 434 KB of all-linear weights once, not twice).
   */
  AdapterCheckpoint checkpoint(TenantState state, byte[] weights, Long weightsVersion, long nowMillis) {
    LoraConfig lora = state.adapter.config();
    return AdapterCheckpoint.newBuilder()
        .setTenant(state.tenant)
        .setStep(state.trainer.step())
        .setBaseModelSha256(base.weightsSha256())
        .setRank(lora.rank())
        .setAlpha(lora.alpha())
        .setTargetModules(List.copyOf(lora.targetModules()))
        .setUseRslora(lora.useRslora())
        .setLayersToTransform(lora.layersToTransform())
        .setWeights(ByteBuffer.wrap(weightsVersion == null ? weights : new byte[0]))
        .setWeightsVersion(weightsVersion)
        .setOptimizerState(ByteBuffer.wrap(state.trainer.optimizerStateSafetensors()))
        .setRngState(settings.seed())
        .setTrainedThrough(offsets(state))
        .setExamplesSeen(state.examplesSeen)
        .setPublishedVersion(state.publishedVersion)
        .setHoldout(state.holdout())
        .setPublishedAt(state.publishedAt == null ? null : Instant.ofEpochMilli(state.publishedAt))
        .setStepsSincePublish(state.stepsSincePublish)
        .setRecentVersions(List.of())
        .setKeptVersions(keptVersions(state))
        .setCreatedAt(Instant.ofEpochMilli(nowMillis))
        .build();
  }

  /**
   * The next version of this tenant's adapter; the caller bumps {@code publishedVersion}.
   *
   * @param parentVersion the version these weights descend from (null for the first or an import)
   */
  AdapterSnapshot snapshot(TenantState state, byte[] weights, Long parentVersion, Float holdoutLoss,
      Float baseHoldoutLoss, long nowMillis) {
    LoraConfig lora = state.adapter.config();
    long version = state.publishedVersion + 1;
    return AdapterSnapshot.newBuilder()
        .setTenant(state.tenant)
        .setVersion(version)
        .setParentVersion(parentVersion)
        .setBaseModelSha256(base.weightsSha256())
        .setRank(lora.rank())
        .setAlpha(lora.alpha())
        .setTargetModules(List.copyOf(lora.targetModules()))
        .setUseRslora(lora.useRslora())
        .setLayersToTransform(lora.layersToTransform())
        .setWeights(ByteBuffer.wrap(weights))
        .setWeightsSha256(Sha256.hex(weights))
        .setTrainedThrough(offsets(state))
        .setExamplesSeen(state.examplesSeen)
        .setTrainLoss(Float.isFinite(state.lastLoss) ? state.lastLoss : null)
        .setHoldoutLoss(holdoutLoss)
        .setBaseHoldoutLoss(baseHoldoutLoss)
        .setNewestEventTime(state.newestEventTime == null ? null : Instant.ofEpochMilli(state.newestEventTime))
        .setCreatedAt(Instant.ofEpochMilli(nowMillis))
        .build();
  }

  /** The weights record of a version just published: written once, beside the tenant's checkpoint. */
  static KeptVersion keptVersion(String tenant, PublishedVersion version) {
    return new KeptVersion(tenant, version.getVersion(), version.getWeights(), version.getWeightsSha256(),
        version.getExamplesSeen(), version.getCreatedAt());
  }

  private static List<KeptVersionInfo> keptVersions(TenantState state) {
    return state.recentVersions().stream()
        .map(v -> new KeptVersionInfo(v.getVersion(), v.getWeightsSha256(), v.getExamplesSeen(), v.getCreatedAt()))
        .toList();
  }

  private static List<TrainedOffset> offsets(TenantState state) {
    List<TrainedOffset> list = new ArrayList<>();
    state.trainedThrough.entrySet().stream()
        .sorted(Comparator.comparing((Map.Entry<TopicPartition, Long> e) -> e.getKey().topic())
            .thenComparingInt(e -> e.getKey().partition()))
        .forEach(e -> list.add(new TrainedOffset(e.getKey().topic(), e.getKey().partition(), e.getValue())));
    return list;
  }
}
