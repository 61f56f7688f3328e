package io.lorastream.model.pretrain;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import io.lorastream.model.BaseModel;
import io.lorastream.model.CausalLm;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Full-parameter training of a base model: every weight of a loaded {@link BaseModel} is made
 * trainable and updated in place by AdamW (decoupled weight decay on matrices only, global-norm
 * clipping) with a linear warm-up and a cosine learning-rate decay. The loss is the mean next-token
 * cross-entropy over every position of the packed rows.
 *
 * <p>The forward pass is the serving one ({@link CausalLm#logits}), so what is trained is exactly
 * what is served. Given the same model, rows and thread count, a run is bit-reproducible.
 */
public final class BasePretrainer implements AutoCloseable {

  /**
   * @param steps optimizer steps; the cosine schedule ends here
   * @param batchSize rows per step
   * @param sequenceLength tokens per row
   * @param peakLearningRate after the warm-up
   * @param minLearningRate at the last step
   * @param warmupSteps linear warm-up from 0
   * @param weightDecay decoupled, on 2-D weights (not on norms)
   * @param maxGradNorm global L2 norm the gradients are clipped to; 0 disables clipping
   * @param seed seed of the row sampler
   */
  public record Settings(
      int steps,
      int batchSize,
      int sequenceLength,
      float peakLearningRate,
      float minLearningRate,
      int warmupSteps,
      float weightDecay,
      float maxGradNorm,
      long seed) {
    public Settings {
      if (steps <= 0 || batchSize <= 0 || sequenceLength < 2 || warmupSteps < 0) {
        throw new IllegalArgumentException(
            "steps and batch size must be positive, sequence length at least 2, warm-up not negative");
      }
      if (!(peakLearningRate > 0) || !(minLearningRate >= 0) || minLearningRate > peakLearningRate) {
        throw new IllegalArgumentException("need 0 <= minLearningRate <= peakLearningRate, 0 < peak");
      }
      if (!(weightDecay >= 0) || !(maxGradNorm >= 0)) {
        throw new IllegalArgumentException("weightDecay and maxGradNorm must not be negative");
      }
    }

    /** Learning rate of optimizer step {@code t} (1-based): warm-up, then cosine to the minimum. */
    public double learningRate(long t) {
      if (t <= warmupSteps) {
        return peakLearningRate * (double) t / Math.max(1, warmupSteps);
      }
      double progress = Math.min(1.0, (double) (t - warmupSteps) / Math.max(1, steps - warmupSteps));
      return minLearningRate
          + 0.5 * (peakLearningRate - minLearningRate) * (1 + Math.cos(Math.PI * progress));
    }
  }

  private static final float BETA1 = 0.9f;
  private static final float BETA2 = 0.95f;
  private static final float EPSILON = 1e-8f;

  private final BaseModel base;
  private final CausalLm lm;
  private final Settings settings;
  private final NDManager manager; // owns the AdamW moments and the step inputs
  private final List<NDArray> parameters = new ArrayList<>();
  private final List<Boolean> decayed = new ArrayList<>();
  private final NDArray[] expAvg;
  private final NDArray[] expAvgSq;
  private long step;

  public BasePretrainer(BaseModel base, Settings settings) {
    if (base.precision().isHalf()) {
      throw new IllegalArgumentException("pretraining updates the F32 weights; load the base model in F32, not "
          + base.precision());
    }
    this.base = base;
    this.lm = new CausalLm(base);
    this.settings = settings;
    this.manager = NDManager.newBaseManager(base.manager().getDevice());
    for (Map.Entry<String, NDArray> e : base.tensors().entrySet()) {
      NDArray p = e.getValue();
      p.setRequiresGradient(true);
      parameters.add(p);
      decayed.add(p.getShape().dimension() == 2);
    }
    expAvg = new NDArray[parameters.size()];
    expAvgSq = new NDArray[parameters.size()];
    for (int i = 0; i < parameters.size(); i++) {
      expAvg[i] = manager.zeros(parameters.get(i).getShape(), DataType.FLOAT32);
      expAvgSq[i] = manager.zeros(parameters.get(i).getShape(), DataType.FLOAT32);
    }
  }

  public long step() {
    return step;
  }

  public Settings settings() {
    return settings;
  }

  /**
   * One AdamW step on {@code rows} (rows, sequenceLength + 1) of token ids.
   *
   * @return the mean loss of the batch before the update
   */
  public float step(long[] rows) {
    boolean gradMode = JniUtils.isGradMode();
    try (NDScope scope = new NDScope()) {
      JniUtils.setGradMode(true);
      NDArray loss = lossOf(rows);
      JniUtils.backward((PtNDArray) loss, (PtNDArray) loss.onesLike(), false, false);
      JniUtils.setGradMode(false);
      float value = loss.getFloat();
      if (!Float.isFinite(value)) {
        throw new IllegalStateException("loss is " + value + " at step " + (step + 1));
      }
      applyAdamW();
      return value;
    } catch (RuntimeException e) {
      zeroGradients();
      throw e;
    } finally {
      JniUtils.setGradMode(gradMode);
    }
  }

  /** Mean loss of {@code rows} without gradients. */
  public float loss(long[] rows) {
    boolean gradMode = JniUtils.isGradMode();
    try (NDScope scope = new NDScope()) {
      JniUtils.setGradMode(false);
      return lossOf(rows).getFloat();
    } finally {
      JniUtils.setGradMode(gradMode);
    }
  }

  /** Mean over (B, T) of -log p(next token); rows are (B, T + 1). */
  private NDArray lossOf(long[] rows) {
    int width = settings.sequenceLength() + 1;
    if (rows.length % width != 0) {
      throw new IllegalArgumentException("rows must be a multiple of " + width + " tokens");
    }
    int batch = rows.length / width;
    NDArray all = manager.create(rows, new Shape(batch, width));
    NDArray inputs = all.get(":, :-1");
    NDArray targets = all.get(":, 1:");
    NDArray logits = lm.logits(inputs, null); // (B, T, vocab)
    NDArray picked = logits.logSoftmax(-1).gather(targets.expandDims(-1), -1).squeeze(-1); // (B, T)
    return picked.mean().neg();
  }

  /** Global-norm clipping, then PyTorch's AdamW; in place, grad mode off. */
  private void applyAdamW() {
    NDArray[] grads = new NDArray[parameters.size()];
    double squaredNorm = 0;
    for (int i = 0; i < grads.length; i++) {
      grads[i] = parameters.get(i).getGradient();
      squaredNorm += grads[i].square().sum().getFloat();
    }
    double norm = Math.sqrt(squaredNorm);
    float clip = 1f;
    if (settings.maxGradNorm() > 0 && norm > settings.maxGradNorm()) {
      clip = (float) (settings.maxGradNorm() / (norm + 1e-6));
    }
    step++;
    double lr = settings.learningRate(step);
    double bias1 = 1 - Math.pow(BETA1, step);
    double bias2 = 1 - Math.pow(BETA2, step);
    float stepSize = (float) (lr / bias1);
    float bias2Root = (float) Math.sqrt(bias2);
    float decay = (float) (1 - lr * settings.weightDecay());
    for (int i = 0; i < grads.length; i++) {
      NDArray p = parameters.get(i);
      NDArray g = clip < 1f ? grads[i].mul(clip) : grads[i];
      expAvg[i].muli(BETA1).addi(g.mul(1 - BETA1));
      expAvgSq[i].muli(BETA2).addi(g.square().mul(1 - BETA2));
      if (decayed.get(i) && decay != 1f) {
        p.muli(decay);
      }
      NDArray denominator = expAvgSq[i].sqrt().div(bias2Root).add(EPSILON);
      p.subi(expAvg[i].div(denominator).mul(stepSize));
    }
    zeroGradients();
  }

  private void zeroGradients() {
    for (NDArray p : parameters) {
      if (p.hasGradient()) {
        JniUtils.zeroGrad((PtNDArray) p);
      }
    }
  }

  /** Frees the optimizer state and makes the weights plain (frozen) arrays again. */
  @Override
  public void close() {
    for (NDArray p : parameters) {
      if (!p.isReleased()) {
        p.setRequiresGradient(false);
      }
    }
    manager.close();
  }

  /** The trained weights by checkpoint name (the base model's own arrays). */
  public Map<String, NDArray> weights() {
    return base.tensors();
  }
}
