package io.lorastream.model;

/**
 * A scalar, double-precision transcription of transformers' LlamaForCausalLM forward (eager
 * attention, rotate_half RoPE, repeat_kv GQA) with unmerged LoRA: the reference the NDArray
 * forward pass is checked against.
 */
final class NaiveLlamaReference {
  private final LlamaConfig c;
  private final BaseModel base;
  private final LoraAdapter adapter;

  NaiveLlamaReference(BaseModel base, LoraAdapter adapterOrNull) {
    this.c = base.config();
    this.base = base;
    this.adapter = adapterOrNull;
  }

  /** Logits (T, vocab) of one sequence. */
  double[][] logits(int[] ids) {
    int t = ids.length;
    int dim = c.hiddenSize();
    int hd = c.headDim();
    int heads = c.numAttentionHeads();
    int kvHeads = c.numKeyValueHeads();
    double[][] emb = matrix("model.embed_tokens.weight", c.vocabSize(), dim);
    double[][] x = new double[t][];
    for (int i = 0; i < t; i++) {
      x[i] = emb[ids[i]].clone();
    }
    for (int l = 0; l < c.numHiddenLayers(); l++) {
      String p = "model.layers." + l + ".";
      double[][] h = rmsNorm(x, vector(p + "input_layernorm.weight"));
      double[][] q = project(h, l, LoraModule.Q_PROJ);
      double[][] k = project(h, l, LoraModule.K_PROJ);
      double[][] v = project(h, l, LoraModule.V_PROJ);
      for (int i = 0; i < t; i++) {
        for (int head = 0; head < heads; head++) {
          rope(q[i], head * hd, i, hd);
        }
        for (int head = 0; head < kvHeads; head++) {
          rope(k[i], head * hd, i, hd);
        }
      }
      double[][] attention = new double[t][heads * hd];
      for (int head = 0; head < heads; head++) {
        int kvHead = head / (heads / kvHeads);
        for (int i = 0; i < t; i++) {
          double[] scores = new double[i + 1];
          double max = Double.NEGATIVE_INFINITY;
          for (int j = 0; j <= i; j++) {
            double s = 0;
            for (int d = 0; d < hd; d++) {
              s += q[i][head * hd + d] * k[j][kvHead * hd + d];
            }
            scores[j] = s / Math.sqrt(hd);
            max = Math.max(max, scores[j]);
          }
          double sum = 0;
          for (int j = 0; j <= i; j++) {
            scores[j] = Math.exp(scores[j] - max);
            sum += scores[j];
          }
          for (int j = 0; j <= i; j++) {
            for (int d = 0; d < hd; d++) {
              attention[i][head * hd + d] += scores[j] / sum * v[j][kvHead * hd + d];
            }
          }
        }
      }
      add(x, project(attention, l, LoraModule.O_PROJ));
      h = rmsNorm(x, vector(p + "post_attention_layernorm.weight"));
      double[][] gate = project(h, l, LoraModule.GATE_PROJ);
      double[][] up = project(h, l, LoraModule.UP_PROJ);
      for (int i = 0; i < t; i++) {
        for (int j = 0; j < gate[i].length; j++) {
          gate[i][j] = gate[i][j] / (1 + Math.exp(-gate[i][j])) * up[i][j];
        }
      }
      add(x, project(gate, l, LoraModule.DOWN_PROJ));
    }
    double[][] h = rmsNorm(x, vector("model.norm.weight"));
    return matVec(h, c.tieWordEmbeddings() ? emb : matrix("lm_head.weight", c.vocabSize(), dim));
  }

  private void rope(double[] row, int offset, int position, int hd) {
    int half = hd / 2;
    for (int i = 0; i < half; i++) {
      double angle = position * Math.pow(c.ropeTheta(), -2.0 * i / hd);
      double x1 = row[offset + i];
      double x2 = row[offset + half + i];
      row[offset + i] = x1 * Math.cos(angle) - x2 * Math.sin(angle);
      row[offset + half + i] = x2 * Math.cos(angle) + x1 * Math.sin(angle);
    }
  }

  private double[][] project(double[][] x, int layer, LoraModule m) {
    double[][] w = matrix(m.baseWeightName(layer), m.outFeatures(c), m.inFeatures(c));
    double[][] y = matVec(x, w);
    if (adapter != null && adapter.a(layer, m) != null) {
      int r = adapter.config().rank();
      double[][] a = toMatrix(adapter.a(layer, m).toFloatArray(), r, m.inFeatures(c));
      double[][] b = toMatrix(adapter.b(layer, m).toFloatArray(), m.outFeatures(c), r);
      double[][] ax = matVec(x, a);
      double[][] bax = matVec(ax, b);
      double s = adapter.config().scale();
      for (int i = 0; i < y.length; i++) {
        for (int j = 0; j < y[i].length; j++) {
          y[i][j] += s * bax[i][j];
        }
      }
    }
    return y;
  }

  private double[][] rmsNorm(double[][] x, double[] w) {
    double[][] out = new double[x.length][];
    for (int i = 0; i < x.length; i++) {
      double ms = 0;
      for (double v : x[i]) {
        ms += v * v;
      }
      double inv = 1 / Math.sqrt(ms / x[i].length + c.rmsNormEps());
      out[i] = new double[x[i].length];
      for (int j = 0; j < x[i].length; j++) {
        out[i][j] = w[j] * x[i][j] * inv;
      }
    }
    return out;
  }

  /** x (t, in) times w^T for w (out, in). */
  private static double[][] matVec(double[][] x, double[][] w) {
    double[][] y = new double[x.length][w.length];
    for (int i = 0; i < x.length; i++) {
      for (int o = 0; o < w.length; o++) {
        double s = 0;
        for (int j = 0; j < w[o].length; j++) {
          s += x[i][j] * w[o][j];
        }
        y[i][o] = s;
      }
    }
    return y;
  }

  private static void add(double[][] x, double[][] delta) {
    for (int i = 0; i < x.length; i++) {
      for (int j = 0; j < x[i].length; j++) {
        x[i][j] += delta[i][j];
      }
    }
  }

  private double[] vector(String name) {
    float[] f = base.tensors().get(name).toFloatArray();
    double[] out = new double[f.length];
    for (int i = 0; i < f.length; i++) {
      out[i] = f[i];
    }
    return out;
  }

  private double[][] matrix(String name, int rows, int cols) {
    return toMatrix(base.tensors().get(name).toFloatArray(), rows, cols);
  }

  private static double[][] toMatrix(float[] f, int rows, int cols) {
    double[][] out = new double[rows][cols];
    for (int i = 0; i < rows; i++) {
      for (int j = 0; j < cols; j++) {
        out[i][j] = f[i * cols + j];
      }
    }
    return out;
  }
}
