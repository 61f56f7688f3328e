package io.lorastream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;

/**
 * {@link LayerOps} through {@code liblorastream_kernels.so} (src/main/native/layer_ops.c): one call
 * per norm, residual sum and norm, rotary embedding or SwiGLU product, where libtorch runs three to
 * seven operations. For passes without gradients on F32 CPU arrays only ({@link CausalLm} decides);
 * results agree with {@link TorchLayerOps} to float rounding. The residual sum and SwiGLU write
 * into their first argument, which must be the pass's own fresh, contiguous array.
 */
final class NativeLayerOps implements LayerOps {
  private final float eps;
  private final int[] positions;
  private final int positionRows;
  private final int time;
  private final NDArray queryTable;
  private final NDArray keyTable;
  private final int headDim;

  /**
   * @param positions (R · T) each token's position, checked against the tables' length; R =
   *     positionRows, 1 when every row shares its positions, else the batch's rows
   * @param queryTable (P, 2 · head_dim) [cos | sin] / sqrt(head_dim) of every position
   * @param keyTable (P, 2 · head_dim) [cos | sin]
   */
  NativeLayerOps(float eps, long[] positions, int positionRows, int time, NDArray queryTable, NDArray keyTable) {
    this.eps = eps;
    this.positionRows = positionRows;
    this.time = time;
    this.queryTable = queryTable;
    this.keyTable = keyTable;
    this.headDim = Math.toIntExact(queryTable.getShape().get(1) / 2);
    if (positions.length != positionRows * time) {
      throw new IllegalArgumentException(positions.length + " positions for " + positionRows + " rows of " + time);
    }
    long tablePositions = queryTable.getShape().get(0);
    this.positions = new int[positions.length];
    for (int i = 0; i < positions.length; i++) {
      if (positions[i] < 0 || positions[i] >= tablePositions) {
        throw new IllegalArgumentException("position " + positions[i] + " outside the rotary table's " + tablePositions);
      }
      this.positions[i] = (int) positions[i];
    }
  }

  @Override
  public NDArray norm(NDArray x, NDArray weight) {
    int dim = checkedDim(x, weight);
    NDArray out = x.getManager().create(x.getShape(), DataType.FLOAT32); // all written
    rmsNorm(NativeKernels.memory(x), NativeKernels.memory(weight), NativeKernels.memory(out), rows(x, dim), dim,
        eps);
    return out;
  }

  @Override
  public NDArray[] addNorm(NDArray x, NDArray delta, NDArray weight) {
    int dim = checkedDim(x, weight);
    if (!delta.getShape().equals(x.getShape()) || !NativeKernels.fits(delta)) {
      throw new IllegalArgumentException("residual " + delta.getShape() + " does not match " + x.getShape());
    }
    NDArray out = x.getManager().create(x.getShape(), DataType.FLOAT32);
    addRmsNorm(writable(x), NativeKernels.memory(delta), NativeKernels.memory(weight), NativeKernels.memory(out),
        rows(x, dim), dim, eps);
    return new NDArray[] {x, out};
  }

  @Override
  public NDArray rotary(NDArray projection, int heads, boolean query) {
    Shape s = projection.getShape();
    if (!NativeKernels.fits(projection) || s.dimension() != 3 || s.get(1) != time
        || s.get(2) != (long) heads * headDim || (positionRows != 1 && positionRows != s.get(0))) {
      throw new IllegalArgumentException("rotary embedding of " + s + " as " + heads + " heads of " + headDim
          + " for " + positionRows + " rows' positions of " + time);
    }
    int batch = Math.toIntExact(s.get(0));
    NDArray out = projection.getManager().create(new Shape(batch, heads, time, headDim), DataType.FLOAT32);
    rope(NativeKernels.memory(projection), NativeKernels.memory(query ? queryTable : keyTable), positions,
        positionRows, NativeKernels.memory(out), batch, time, heads, headDim);
    return out;
  }

  @Override
  public NDArray swiglu(NDArray gate, NDArray up) {
    if (!gate.getShape().equals(up.getShape()) || !NativeKernels.fits(gate) || !NativeKernels.fits(up)) {
      throw new IllegalArgumentException("SwiGLU of " + gate.getShape() + " and " + up.getShape());
    }
    siluMul(writable(gate), NativeKernels.memory(up), gate.getShape().size());
    return gate;
  }

  private static int checkedDim(NDArray x, NDArray weight) {
    Shape s = x.getShape();
    if (!NativeKernels.fits(x) || !NativeKernels.fits(weight) || weight.getShape().dimension() != 1
        || s.get(s.dimension() - 1) != weight.getShape().get(0)) {
      throw new IllegalArgumentException("RMSNorm of " + s + " with a weight of " + weight.getShape());
    }
    return Math.toIntExact(weight.getShape().get(0));
  }

  private static int rows(NDArray x, int dim) {
    return Math.toIntExact(x.getShape().size() / dim);
  }

  /**
   * The memory of an array written in place. It must be contiguous, or the writes would go to a
   * copy: the arrays {@link CausalLm} passes are fresh results of an embedding lookup or a
   * {@code linear} call (DJL does not tell whether an array is contiguous).
   */
  private static ByteBuffer writable(NDArray array) {
    return NativeKernels.memory(array);
  }

  private static native void rmsNorm(ByteBuffer x, ByteBuffer weight, ByteBuffer out, int rows, int dim, float eps);

  private static native void addRmsNorm(ByteBuffer x, ByteBuffer delta, ByteBuffer weight, ByteBuffer out,
      int rows, int dim, float eps);

  private static native void rope(ByteBuffer x, ByteBuffer table, int[] positions, int positionRows,
      ByteBuffer out, int batch, int time, int heads, int headDim);

  private static native void siluMul(ByteBuffer gate, ByteBuffer up, long n);
}
