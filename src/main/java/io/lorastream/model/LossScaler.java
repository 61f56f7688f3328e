package io.lorastream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import java.util.Collection;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * Dynamic loss scaling for training in {@link Precision#F16}, as PyTorch's {@code GradScaler}:
 * the backward pass starts from {@code scale} instead of 1, so small gradients of the F16
 * activations do not underflow to zero, and the F32 gradients of the LoRA factors are divided by
 * it again before clipping and AdamW. Gradients that overflowed (inf or NaN) are thrown away and
 * the backward pass runs again (its graph kept, so dropout masks and the random stream are those
 * of the one forward pass) at half the scale; after {@value #GROWTH_INTERVAL} steps without
 * overflow the scale doubles, up to {@value #MAX_SCALE}. One scaler per base model, shared by
 * every trainer on it (the range is the base model's activations'); thread-safe. In F32 it does
 * nothing: one backward pass from 1.
 */
final class LossScaler {
  static final float INITIAL_SCALE = 1024f;
  static final float MAX_SCALE = 32768f; // at 65,536 a gradient of 1 at the F16 logits overflows (F16 ends at 65,504)
  static final int GROWTH_INTERVAL = 1000;
  /** Backward passes a step may try, halving the scale each time, before its gradients count as not finite. */
  static final int MAX_TRIES = 24;

  private static final Map<BaseModel, LossScaler> SCALERS = new WeakHashMap<>();
  private static final LossScaler NONE = new LossScaler(false);

  private final boolean active;
  private float scale = INITIAL_SCALE;
  private int cleanSteps;

  private LossScaler(boolean active) {
    this.active = active;
  }

  /** The scaler of {@code base}'s training steps; inactive unless the base runs in F16. */
  static LossScaler of(BaseModel base) {
    if (base.precision() != Precision.F16) {
      return NONE;
    }
    synchronized (SCALERS) {
      return SCALERS.computeIfAbsent(base, b -> new LossScaler(true));
    }
  }

  synchronized float scale() {
    return active ? scale : 1f;
  }

  /** Sets the scale (for tests that force an overflow). */
  synchronized void setScale(float value) {
    scale = value;
    cleanSteps = 0;
  }

  /**
   * Gradients of {@code loss} into {@code parameters}' gradients, unscaled and finite.
   *
   * @param zeroGradients zeroes every gradient the pass writes (after an overflow)
   * @throws IllegalStateException when the gradients are not finite at any scale tried
   */
  void backward(NDArray loss, Collection<NDArray> parameters, Runnable zeroGradients) {
    if (!active) {
      JniUtils.backward((PtNDArray) loss, (PtNDArray) loss.onesLike(), false, false);
      return;
    }
    for (int attempt = 0; attempt < MAX_TRIES; attempt++) {
      float used = scale();
      NDArray seed = loss.onesLike().mul(loss.getManager().full(new Shape(), used));
      JniUtils.backward((PtNDArray) loss, (PtNDArray) seed, true, false); // keep the graph for a retry
      if (unscaledAndFinite(parameters, used)) {
        stepped(used);
        return;
      }
      zeroGradients.run();
      overflowed(used);
    }
    throw new IllegalStateException("the gradients are not finite at any loss scale down to " + scale());
  }

  /** Divides every gradient by {@code used}; false when any of them is inf or NaN. */
  private static boolean unscaledAndFinite(Collection<NDArray> parameters, float used) {
    NDList sums = new NDList(parameters.size());
    NDArray inverse = null;
    for (NDArray p : parameters) {
      NDArray g = p.getGradient(); // shares the gradient's storage: divided in place
      if (inverse == null) {
        inverse = g.getManager().full(new Shape(), 1f / used);
      }
      g.muli(inverse);
      sums.add(g.sum().reshape(1));
    }
    // A sum of F32 gradients is finite exactly when each of them is (they are far below F32's range).
    return sums.isEmpty() || Float.isFinite(NDArrays.concat(sums).sum().getFloat());
  }

  private synchronized void overflowed(float used) {
    if (used == scale) { // another step may have backed off already
      scale = used / 2;
      cleanSteps = 0;
    }
  }

  private synchronized void stepped(float used) {
    if (used == scale && ++cleanSteps >= GROWTH_INTERVAL && scale < MAX_SCALE) {
      scale *= 2;
      cleanSteps = 0;
    }
  }
}
