package io.lorastream.contract;

import io.lorastream.avro.AdapterSnapshot;
import io.lorastream.avro.TrainedOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a snapshot says about itself, without its weights, as one JSON-ready map with the HTTP
 * API's snake_case keys. The gateway's {@code GET /v1/adapters/{tenant}} and the CLI's
 * {@code adapters show} both print this, so the two describe a snapshot the same way.
 */
public final class SnapshotFacts {
  private SnapshotFacts() {}

  /**
   * Keys in a fixed order; absent optional values are JSON nulls. {@code weights_bytes} is the
   * size of the weights the record carries (0 where a holder dropped them after storing them).
   */
  public static Map<String, Object> of(AdapterSnapshot s) {
    List<Map<String, Object>> through = new ArrayList<>();
    for (TrainedOffset t : s.getTrainedThrough()) {
      Map<String, Object> offset = new LinkedHashMap<>();
      offset.put("topic", t.getTopic());
      offset.put("partition", t.getPartition());
      offset.put("next_offset", t.getNextOffset());
      through.add(offset);
    }
    Map<String, Object> facts = new LinkedHashMap<>();
    facts.put("tenant", s.getTenant());
    facts.put("version", s.getVersion());
    facts.put("parent_version", s.getParentVersion());
    facts.put("base_model_sha256", s.getBaseModelSha256());
    facts.put("rank", s.getRank());
    facts.put("alpha", s.getAlpha());
    facts.put("target_modules", List.copyOf(s.getTargetModules()));
    facts.put("use_rslora", s.getUseRslora());
    facts.put("layers_to_transform",
        s.getLayersToTransform() == null ? null : List.copyOf(s.getLayersToTransform()));
    facts.put("weights_sha256", s.getWeightsSha256());
    facts.put("weights_bytes", s.getWeights() == null ? 0 : s.getWeights().remaining());
    facts.put("trained_through", through);
    facts.put("examples_seen", s.getExamplesSeen());
    facts.put("train_loss", s.getTrainLoss());
    facts.put("holdout_loss", s.getHoldoutLoss());
    facts.put("base_holdout_loss", s.getBaseHoldoutLoss());
    facts.put("newest_event_time", s.getNewestEventTime() == null ? null : s.getNewestEventTime().toString());
    facts.put("created_at", s.getCreatedAt().toString());
    return facts;
  }
}
