package io.lorastream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import java.util.Locale;

/**
 * The number type of the base model's arithmetic. {@link #F32} everywhere by default; {@link
 * #F16} is mixed precision for GPUs: the frozen base weights, activations and the KV cache in
 * half precision, while LoRA factors (and their gradients and AdamW moments) stay F32 master
 * weights, the LoRA terms are computed in F32, RMSNorm's statistics are taken in F32, and the
 * logits are F32 (losses, sampling, logprobs); training steps scale the loss ({@link
 * LossScaler}). Chosen with env {@code LORASTREAM_PRECISION} ({@code f32} or {@code f16}) or the
 * system property {@code lorastream.precision}.
 *
 * <p>BF16 is refused: converting any array to BF16 aborts the process in DJL 0.36's PyTorch
 * engine (seen with its CPU build; not tried with a CUDA one).
 *
 * <p>The conversions keep autograd's graph. DJL's {@code toType} runs without gradients, so a
 * conversion that a gradient must cross is made differently: up to F32 by a product with a
 * one-element F32 array (type promotion), down by writing into a fresh half array ({@code
 * index_put_}, whose backward casts the gradient back).
 */
public enum Precision {
  F32(DataType.FLOAT32),
  F16(DataType.FLOAT16);

  private final DataType dataType;

  Precision(DataType dataType) {
    this.dataType = dataType;
  }

  public DataType dataType() {
    return dataType;
  }

  /** True for the half-precision types. */
  public boolean isHalf() {
    return this != F32;
  }

  /** {@code f32} or {@code f16} (any case). */
  public static Precision parse(String name) {
    String n = name.trim().toLowerCase(Locale.ROOT);
    return switch (n) {
      case "f32", "fp32", "float32" -> F32;
      case "f16", "fp16", "float16" -> F16;
      case "bf16", "bfloat16" -> throw new IllegalArgumentException(
          "precision bf16 is not supported: DJL's PyTorch engine aborts the process on BF16 arrays; use f16");
      default -> throw new IllegalArgumentException("unknown precision '" + name + "': expected f32 or f16");
    };
  }

  /** The precision system property {@code lorastream.precision} or env {@code LORASTREAM_PRECISION} names; F32 when neither is set. */
  public static Precision configured() {
    String name = System.getProperty("lorastream.precision");
    if (name == null || name.isBlank()) {
      name = System.getenv("LORASTREAM_PRECISION");
    }
    return name == null || name.isBlank() ? F32 : parse(name);
  }

  /** {@code x} as F32; differentiable when grad mode is on. */
  static NDArray toF32(NDArray x) {
    if (x.getDataType() == DataType.FLOAT32) {
      return x;
    }
    if (!JniUtils.isGradMode()) {
      return x.toType(DataType.FLOAT32, false);
    }
    return x.mul(x.getManager().ones(new Shape(1), DataType.FLOAT32)); // promotes to F32
  }

  /** {@code x} as {@code type}; differentiable when grad mode is on. */
  static NDArray to(NDArray x, DataType type) {
    if (x.getDataType() == type) {
      return x;
    }
    if (type == DataType.FLOAT32) {
      return toF32(x);
    }
    if (!JniUtils.isGradMode()) {
      return x.toType(type, false);
    }
    NDArray out = x.getManager().zeros(x.getShape(), type);
    out.set(new NDIndex("..."), x); // index_put_: its backward casts the gradient back to x's type
    return out;
  }
}
