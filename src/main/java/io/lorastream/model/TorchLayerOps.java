package io.lorastream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.Activation;

/**
 * {@link LayerOps} in libtorch's operations: differentiable, on any device. The rotary cosines
 * and sines of the pass's positions are looked up once, (R, 1, T, head_dim) each with R = 1 when
 * every row shares its positions, else B; rotate-half is a product with a fixed ±1 matrix.
 */
final class TorchLayerOps implements LayerOps {
  private final NDManager manager;
  private final NDArray eps;
  private final long[] positions;
  private final int positionRows;
  private final int time;
  private final NDArray queryTable;
  private final NDArray keyTable;
  private final NDArray rotateHalf;
  private final int headDim;
  private NDList queryFactors; // {cos, sin} (R, 1, T, hd), looked up at the first rotary embedding
  private NDList keyFactors;

  /**
   * @param positions (R · T) each token's position, R = positionRows (none for a pass of norms only)
   * @param queryTable (P, 2 · head_dim) [cos | sin] / sqrt(head_dim) of every position
   * @param keyTable (P, 2 · head_dim) [cos | sin]
   * @param rotateHalf (head_dim, head_dim) with {@code x R = cat(-x2, x1)}
   */
  TorchLayerOps(NDManager m, float eps, long[] positions, int positionRows, int time, NDArray queryTable,
      NDArray keyTable, NDArray rotateHalf) {
    this.manager = m;
    this.eps = m.full(new Shape(), eps);
    this.positions = positions;
    this.positionRows = positionRows;
    this.time = time;
    this.queryTable = queryTable;
    this.keyTable = keyTable;
    this.rotateHalf = rotateHalf;
    this.headDim = Math.toIntExact(rotateHalf.getShape().get(0));
  }

  /**
   * x / sqrt(mean(x^2) + eps) * weight over the last axis, as HF's LlamaRMSNorm: in a half
   * precision the statistics are taken in F32 (x² of a large activation overflows F16) and the
   * normalised x is narrowed before the product with the weight.
   */
  @Override
  public NDArray norm(NDArray x, NDArray weight) {
    NDArray wide = Precision.toF32(x);
    NDArray rms = wide.square().mean(new int[] {-1}, true).add(eps).sqrt();
    return Precision.to(wide.div(rms), x.getDataType()).mul(weight);
  }

  @Override
  public NDArray[] addNorm(NDArray x, NDArray delta, NDArray weight) {
    NDArray sum = x.add(delta);
    return new NDArray[] {sum, norm(sum, weight)};
  }

  /** HF's rotary embedding x cos + rotate_half(x) sin, rotate_half(x) = x R. */
  @Override
  public NDArray rotary(NDArray projection, int heads, boolean query) {
    Shape s = projection.getShape();
    NDArray x = projection.reshape(s.get(0), s.get(1), heads, headDim).transpose(0, 2, 1, 3); // (B, heads, T, hd)
    if (queryFactors == null) {
      NDArray ids = manager.create(positions, new Shape(positionRows, time));
      queryFactors = lookup(ids, queryTable).reshape(positionRows, 1, time, 2L * headDim).split(2, 3);
      keyFactors = lookup(ids, keyTable).reshape(positionRows, 1, time, 2L * headDim).split(2, 3);
    }
    NDList factors = query ? queryFactors : keyFactors;
    return x.mul(factors.get(0)).add(x.matMul(rotateHalf).mul(factors.get(1)));
  }

  @Override
  public NDArray swiglu(NDArray gate, NDArray up) {
    return gate.mul(Activation.sigmoid(gate)).mul(up);
  }

  /** Rows {@code ids} (any shape) of {@code table} (N, D): (ids..., D). */
  static NDArray lookup(NDArray ids, NDArray table) {
    return ids.getNDArrayInternal().embedding(ids, table, SparseFormat.DENSE).singletonOrThrow();
  }
}
