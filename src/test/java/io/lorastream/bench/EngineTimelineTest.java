package io.lorastream.bench;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.lorastream.metrics.Metrics;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

/** What the gateway suite counts as the model thread's work within the load driver's windows. */
class EngineTimelineTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Cumulative totals: prefill s, prefills, decode s, steps, CPU s. */
  private static GatewayBench.EngineTime total(double prefill, long prefills, double decode, long steps, double cpu) {
    return new GatewayBench.EngineTime(prefill, prefills, decode, steps, cpu);
  }

  @Test
  void addsUpTheWorkBetweenTheSamplesAroundEachWindow() throws Exception {
    GatewayBench.EngineTimeline timeline = new GatewayBench.EngineTimeline(Metrics.create(), Thread.currentThread().getId());
    timeline.record(1_000, total(0, 0, 0, 0, 0));
    timeline.record(1_100, total(0.05, 5, 0.04, 8, 0.08)); // warm-up
    timeline.record(1_200, total(0.10, 10, 0.10, 20, 0.19)); // window A from here ..
    timeline.record(1_300, total(0.15, 15, 0.18, 36, 0.31)); // .. to here
    timeline.record(1_400, total(0.15, 15, 0.18, 36, 0.31)); // a pause: nothing
    timeline.record(1_500, total(0.20, 19, 0.25, 50, 0.42)); // window B, from 1_450 to 1_500

    JsonNode windows = JSON.readTree("[[1200, 1300], [1450, 1500]]");
    GatewayBench.EngineTime within = timeline.recordedWithin(windows);

    // A: 1_200 .. 1_300; B: from the last sample at or before 1_450 (1_400) to 1_500.
    assertThat(within.prefills()).isEqualTo(5 + 4);
    assertThat(within.steps()).isEqualTo(16 + 14);
    assertThat(within.prefillSeconds()).isCloseTo(0.05 + 0.05, Offset.offset(1e-9));
    assertThat(within.decodeSeconds()).isCloseTo(0.08 + 0.07, Offset.offset(1e-9));
    assertThat(within.cpuSeconds()).isCloseTo(0.12 + 0.11, Offset.offset(1e-9));
  }

  @Test
  void theFigureIsTheBusyShareAndNamesTheCpuShare() {
    Figure figure = total(1.0, 10, 2.0, 100, 2.7).figure("busy", 4.0);
    assertThat(figure.value()).isCloseTo(0.75, Offset.offset(1e-9));
    assertThat(figure.note()).contains("prefill 25% (10, mean 100.00 ms)", "decode 50% (100 steps, mean 20.00 ms)",
        "on a core for 90% of its busy time");
  }
}
