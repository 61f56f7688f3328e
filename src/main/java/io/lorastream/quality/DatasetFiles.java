package io.lorastream.quality;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.lorastream.model.TrainingPair;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes the dataset as JSONL files: {@code train.jsonl} in the format {@code ./lorastream produce}
 * sends ({@code {"id", "tenant", "prompt", "completion", "metadata"}}, tenants interleaved in the
 * order they would stream), {@code heldout.jsonl} ({@code {"tenant", "fact", "prompt", "expected"}})
 * and {@code canary.jsonl} ({@code {"prompt", "completion"}}).
 */
public final class DatasetFiles {
  private static final ObjectMapper JSON = new ObjectMapper();

  private DatasetFiles() {}

  public static void write(CustomerServiceDataset data, int examplesPerTenant, Path dir) {
    try {
      Files.createDirectories(dir);
      try (BufferedWriter out = Files.newBufferedWriter(dir.resolve("train.jsonl"), StandardCharsets.UTF_8)) {
        for (int n = 0; n < examplesPerTenant; n++) {
          for (TenantFacts tenant : data.tenants()) {
            LabelledExample e = data.example(tenant, n);
            ObjectNode line = JSON.createObjectNode().put("id", e.id()).put("tenant", e.tenant())
                .put("prompt", e.prompt()).put("completion", e.completion());
            line.putObject("metadata").put("source", "lorastream-quality").put("fact", e.fact().name());
            out.write(line.toString());
            out.newLine();
          }
        }
      }
      try (BufferedWriter out = Files.newBufferedWriter(dir.resolve("heldout.jsonl"), StandardCharsets.UTF_8)) {
        for (TenantFacts tenant : data.tenants()) {
          for (FactQuestion q : data.heldOut(tenant)) {
            out.write(JSON.createObjectNode().put("tenant", q.tenant()).put("fact", q.fact().name())
                .put("prompt", q.prompt()).put("expected", q.expected()).toString());
            out.newLine();
          }
        }
      }
      try (BufferedWriter out = Files.newBufferedWriter(dir.resolve("canary.jsonl"), StandardCharsets.UTF_8)) {
        for (TrainingPair p : data.canary()) {
          out.write(JSON.createObjectNode().put("prompt", p.prompt()).put("completion", p.completion()).toString());
          out.newLine();
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the dataset to " + dir, e);
    }
  }
}
