package io.lorastream.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.lorastream.metrics.Metrics;
import io.lorastream.model.BaseModel;
import io.lorastream.model.Completion;
import io.lorastream.model.Generator;
import io.lorastream.model.SamplingParams;
import io.prometheus.metrics.model.snapshots.ClassicHistogramBuckets;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The engine's row limit: concurrent requests beyond it wait in the queue, and no step runs more rows. */
class InferenceEngineTest {
  @Test
  void neverDecodesMoreRowsThanItsLimit() throws Exception {
    Metrics metrics = Metrics.create();
    try (BaseModel base = BaseModel.load(Path.of("models", "lorastream-tiny"));
        InferenceEngine engine = new InferenceEngine(base, 32, 2, 64L << 20, metrics)) {
      List<InferenceEngine.Job> jobs = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        jobs.add(engine.submit("Question " + i + ": When can I reach support?\nAnswer:", null,
            SamplingParams.greedy(6 + i), null));
      }
      Generator alone = new Generator(base);
      for (int i = 0; i < jobs.size(); i++) {
        Completion completion = jobs.get(i).result().get(60, TimeUnit.SECONDS);
        assertThat(completion.tokenIds())
            .isEqualTo(alone.generate("Question " + i + ": When can I reach support?\nAnswer:", null, 6 + i).tokenIds());
      }
    }
    HistogramSnapshot.HistogramDataPointSnapshot rows = metrics.gatewayBatchRows.collect().getDataPoints().get(0);
    ClassicHistogramBuckets buckets = rows.getClassicBuckets();
    long atMostOne = 0;
    long atMostTwo = 0;
    for (int i = 0; i < buckets.size(); i++) {
      if (buckets.getUpperBound(i) <= 1) {
        atMostOne += buckets.getCount(i);
      }
      if (buckets.getUpperBound(i) <= 2) {
        atMostTwo += buckets.getCount(i);
      }
    }
    assertThat(atMostTwo).as("steps of at most 2 rows").isEqualTo(rows.getCount());
    assertThat(atMostOne).as("some steps ran 2 rows together").isLessThan(rows.getCount());
  }
}
