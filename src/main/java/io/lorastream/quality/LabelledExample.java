package io.lorastream.quality;

import io.lorastream.avro.TrainingExample;
import java.time.Instant;
import java.util.Map;

/**
 * One training example of the dataset with what it teaches.
 *
 * @param id unique per tenant: {@code <tenant>-<n>}
 * @param fact the fact the answer carries
 * @param question the paraphrase asked (always a training paraphrase)
 */
public record LabelledExample(String id, String tenant, FactKind fact, String question, String prompt,
    String completion) {

  /** The wire form, with the fact and paraphrase in its metadata. */
  public TrainingExample toTrainingExample(Instant eventTime) {
    return TrainingExample.newBuilder()
        .setId(id)
        .setTenant(tenant)
        .setPrompt(prompt)
        .setCompletion(completion)
        .setWeight(1.0f)
        .setEventTime(eventTime)
        .setMetadata(Map.of("source", "lorastream-quality", "fact", fact.name()))
        .build();
  }
}
