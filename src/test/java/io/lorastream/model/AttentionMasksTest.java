package io.lorastream.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Masks computed on the device (a GPU's way, run here on the CPU) and masks filled on the host,
 * each against the rule they state, bit for bit; and whole passes of the shipped model either way.
 */
class AttentionMasksTest {
  private static final int GROUP = 3;

  @ParameterizedTest
  @EnumSource(value = DataType.class, names = {"FLOAT32", "FLOAT16"})
  void causalMasksFollowTheirRuleOnTheHostAndOnTheDevice(DataType type) {
    float masked = type == DataType.FLOAT32 ? -1e9f : -3e4f;
    Random random = new Random(7);
    try (NDManager m = NDManager.newBaseManager()) {
      for (int trial = 0; trial < 40; trial++) {
        int rows = 1 + random.nextInt(4);
        int time = 1 + random.nextInt(5);
        int held = random.nextInt(6);
        int slots = held + time;
        int[] firstSlot = new int[rows];
        for (int r = 0; r < rows; r++) {
          firstSlot[r] = random.nextInt(slots + 2) - 2; // below 0 (no left padding) and beyond a step's reach
        }
        float[] expected = new float[rows * GROUP * time * slots];
        for (int r = 0; r < rows; r++) {
          for (int j = 0; j < GROUP; j++) {
            for (int t = 0; t < time; t++) {
              for (int s = 0; s < slots; s++) {
                boolean seen = s >= firstSlot[r] && s <= held + t;
                expected[((r * GROUP + j) * time + t) * slots + s] = seen ? 0f : masked;
              }
            }
          }
        }
        Shape shape = new Shape(rows, 1, (long) GROUP * time, slots);
        for (boolean onDevice : new boolean[] {false, true}) {
          NDArray mask = new AttentionMasks(GROUP, type, masked, onDevice).causal(m, rows, time, slots, firstSlot, held);
          assertThat(mask.getShape()).isEqualTo(shape);
          assertThat(mask.getDataType()).isEqualTo(type);
          assertBits(mask, expected, "causal, on the device " + onDevice + ", trial " + trial);
        }
      }
    }
  }

  @ParameterizedTest
  @EnumSource(value = DataType.class, names = {"FLOAT32", "FLOAT16"})
  void packedMasksFollowTheirRuleOnTheHostAndOnTheDevice(DataType type) {
    float masked = type == DataType.FLOAT32 ? -1e9f : -3e4f;
    Random random = new Random(11);
    try (NDManager m = NDManager.newBaseManager()) {
      for (int trial = 0; trial < 40; trial++) {
        int rows = 1 + random.nextInt(4);
        int time = 1 + random.nextInt(7);
        int[] attendFrom = new int[rows * time];
        for (int r = 0; r < rows; r++) {
          int start = 0;
          for (int t = 0; t < time; t++) {
            if (random.nextInt(3) == 0) {
              start = t; // a new sequence starts at t
            }
            attendFrom[r * time + t] = start;
          }
        }
        float[] expected = new float[rows * GROUP * time * time];
        for (int r = 0; r < rows; r++) {
          for (int j = 0; j < GROUP; j++) {
            for (int t = 0; t < time; t++) {
              for (int s = 0; s < time; s++) {
                boolean seen = s >= attendFrom[r * time + t] && s <= t;
                expected[((r * GROUP + j) * time + t) * time + s] = seen ? 0f : masked;
              }
            }
          }
        }
        for (boolean onDevice : new boolean[] {false, true}) {
          NDArray mask = new AttentionMasks(GROUP, type, masked, onDevice).packed(m, rows, time, attendFrom);
          assertThat(mask.getShape()).isEqualTo(new Shape(rows, 1, (long) GROUP * time, time));
          assertBits(mask, expected, "packed, on the device " + onDevice + ", trial " + trial);
        }
      }
    }
  }

  /**
   * The shipped model's logits, a packed pass, and two left-padded rows prefilled and then stepped
   * over their cache (a decode batch's way), with masks made either way; native attention off, so
   * the steps over the cache use the masks too.
   */
  @Test
  void passesOfTheShippedModelAreTheSameEitherWay() {
    try (BaseModel base = BaseModel.load(Path.of("models", "lorastream-tiny"))) {
      int[] encoded = base.tokenizer().encode("Question: How long do I have to return an item?\nAnswer:");
      int time = encoded.length;
      long[] ids = new long[time];
      for (int t = 0; t < time; t++) {
        ids[t] = encoded[t];
      }
      // Two packed sequences in one row: the second starts half-way.
      int[] positions = new int[time];
      int[] attendFrom = new int[time];
      for (int t = 0; t < time; t++) {
        positions[t] = t < time / 2 ? t : t - time / 2;
        attendFrom[t] = t < time / 2 ? 0 : time / 2;
      }
      // Two rows: the whole prompt, and its last 5 tokens left-padded to the same length.
      long[] rows = new long[2 * time];
      System.arraycopy(ids, 0, rows, 0, time);
      System.arraycopy(ids, time - 5, rows, 2 * time - 5, 5);
      float[][] results = new float[2][];
      boolean gradMode = JniUtils.isGradMode();
      JniUtils.setGradMode(false); // a pass over a cache runs without gradients
      try {
        for (int way = 0; way < 2; way++) {
          CausalLm lm = new CausalLm(base, false, false, way == 1);
          try (NDManager m = NDManager.newBaseManager();
              NDScope scope = new NDScope();
              CausalLm.KvCache cache = new CausalLm.KvCache(base)) {
            NDArray tokens = m.create(ids, new Shape(1, time));
            NDArray logits = lm.logits(tokens, null); // (1, T, vocab)
            NDArray packed = lm.hiddenPacked(tokens, null, positions, attendFrom, null); // (1, T, dim)
            RowLora baseRows = RowLora.gather(base, java.util.Arrays.asList(null, null), m);
            int[] firstSlot = {0, time - 5};
            NDArray prefill = lm.forwardRows(m.create(rows, new Shape(2, time)), baseRows, new int[] {0, -(time - 5)},
                firstSlot, cache); // (2, T, vocab)
            NDArray step = lm.forwardRows(m.create(new long[] {ids[0], ids[1]}, new Shape(2, 1)), baseRows,
                new int[] {time, 5}, firstSlot, cache); // (2, 1, vocab)
            results[way] = concat(logits.toFloatArray(), packed.toFloatArray(), prefill.toFloatArray(),
                step.toFloatArray());
          }
        }
      } finally {
        JniUtils.setGradMode(gradMode);
      }
      assertThat(results[1]).containsExactly(results[0]);
    }
  }

  private static float[] concat(float[]... parts) {
    int n = 0;
    for (float[] p : parts) {
      n += p.length;
    }
    float[] out = new float[n];
    int at = 0;
    for (float[] p : parts) {
      System.arraycopy(p, 0, out, at, p.length);
      at += p.length;
    }
    return out;
  }

  private static void assertBits(NDArray mask, float[] expected, String what) {
    float[] actual = mask.toType(DataType.FLOAT32, false).toFloatArray();
    assertThat(actual).as(what).hasSize(expected.length);
    for (int i = 0; i < expected.length; i++) {
      assertThat(Float.floatToRawIntBits(actual[i])).as("%s, element %d", what, i)
          .isEqualTo(Float.floatToRawIntBits(expected[i]));
    }
  }
}
