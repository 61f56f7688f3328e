package io.lorastream.chart;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LineChartTest {
  @Test
  void writesAPngWithTheSeriesColourWhereTheDataIs(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("sub/curve.png");
    new LineChart("accuracy", "examples", "share")
        .add(new Series("acme").add(0, 0).add(100, 0.5).add(200, 1))
        .yRange(0, 1)
        .writePng(file);

    BufferedImage img = ImageIO.read(file.toFile());
    assertThat(img.getWidth()).isEqualTo(800);
    assertThat(img.getHeight()).isEqualTo(480);
    // The line runs diagonally from the plot's bottom-left to its top-right corner: its middle,
    // (x=100, y=0.5), is the plot centre and is drawn in the first palette colour (blue).
    int cx = 80 + (800 - 80 - 24) / 2;
    int cy = 48 + (480 - 48 - 64) / 2;
    assertThat(anyPixelNear(img, cx, cy, 0x1f77b4)).isTrue();
    // A corner far from the line stays background white.
    assertThat(img.getRGB(100, 400 - 60) & 0xffffff).isEqualTo(0xffffff);
    assertThat(Files.size(file)).isGreaterThan(1000);
  }

  @Test
  void cdfIsSortedAndEndsAtOne() {
    Series cdf = Series.cdf("freshness", new double[] {3, 1, 2, 4});
    assertThat(cdf.points()).extracting(p -> p[0]).containsExactly(1.0, 2.0, 3.0, 4.0);
    assertThat(cdf.points()).extracting(p -> p[1]).containsExactly(0.25, 0.5, 0.75, 1.0);
  }

  @Test
  void logAxisAndEmptyChartsRender(@TempDir Path dir) {
    new LineChart("scaling", "tenants", "bytes").logX()
        .add(new Series("memory").add(10, 1).add(10_000, 1000).add(0, 5))
        .writePng(dir.resolve("log.png"));
    new LineChart("nothing yet", "x", "y").writePng(dir.resolve("empty.png"));
    assertThat(dir.resolve("log.png")).exists();
    assertThat(dir.resolve("empty.png")).exists();
  }

  @Test
  void ticksAreNiceNumbers() {
    LineChart.Ticks t = LineChart.Ticks.of(0, 97, 5);
    assertThat(t.step()).isEqualTo(20);
    assertThat(t.values(0, 100)).containsExactly(0.0, 20.0, 40.0, 60.0, 80.0, 100.0);
    assertThat(LineChart.Ticks.format(2500)).isEqualTo("2,500");
    assertThat(LineChart.Ticks.format(0.8)).isEqualTo("0.8");
    assertThatThrownBy(() -> new LineChart("t", "x", "y").yRange(1, 1))
        .isInstanceOf(IllegalArgumentException.class);
  }

  private static boolean anyPixelNear(BufferedImage img, int x, int y, int rgb) {
    for (int dx = -3; dx <= 3; dx++) {
      for (int dy = -3; dy <= 3; dy++) {
        if ((img.getRGB(x + dx, y + dy) & 0xffffff) == rgb) {
          return true;
        }
      }
    }
    return false;
  }
}
