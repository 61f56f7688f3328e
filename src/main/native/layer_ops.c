/*
 * Part of liblorastream_kernels.so: the element-wise parts of a decoder layer for passes without
 * gradients (serving, evaluation), one call each where libtorch runs several operations:
 *
 *   rms_norm      out = x / sqrt(mean(x²) + eps) · weight                  (libtorch: 6 operations)
 *   add_rms_norm  x += delta, then out = rms_norm(x)                      (7)
 *   rope          the rotary embedding of a projection's heads, moved
 *                 from (B, T, heads, hd) to the attention's (B, heads, T, hd) (6 with the views)
 *   silu_mul      gate · sigmoid(gate) · up, into gate                     (3)
 *
 * On lorastream-tiny a decode step's arrays hold a few hundred floats per row, so a libtorch
 * operation costs mostly its call; these kernels remove about 25 of a layer's calls.
 *
 * All arrays are F32 and contiguous. Built by src/main/native/build.sh;
 * io.lorastream.model.NativeLayerOps calls it and checks every shape first.
 */
#include <jni.h>
#include <math.h>
#include <stddef.h>

/* glibc's expf, and its vector variants in libmvec, for the sigmoid's loop of exponentials. */
float expf(float x) __attribute__((simd("notinbranch"), nothrow, const));

/* sum of x[i]² over n floats, in 16 partial sums (the order libtorch's vectorised sum uses is
 * different, so results agree to float rounding, not bit for bit). */
__attribute__((target_clones("avx512f", "avx2", "default")))
static float sum_of_squares(const float *x, int n) {
  float part[16] = {0};
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int j = 0; j < 16; j++) {
      part[j] += x[i + j] * x[i + j];
    }
  }
  float sum = 0;
  for (; i < n; i++) {
    sum += x[i] * x[i];
  }
  for (int j = 0; j < 16; j++) {
    sum += part[j];
  }
  return sum;
}

/* out (rows, dim) = rms_norm of each row of x (rows, dim), times weight (dim). */
__attribute__((target_clones("avx512f", "avx2", "default")))
static void rms_norm(const float *x, const float *weight, float *out, int rows, int dim, float eps) {
  for (int r = 0; r < rows; r++) {
    const float *row = x + (size_t) r * dim;
    float *o = out + (size_t) r * dim;
    float scale = 1.0f / sqrtf(sum_of_squares(row, dim) / dim + eps);
    for (int i = 0; i < dim; i++) {
      o[i] = row[i] * scale * weight[i];
    }
  }
}

JNIEXPORT void JNICALL Java_io_lorastream_model_NativeLayerOps_rmsNorm(
    JNIEnv *env, jclass cls, jobject xBuffer, jobject weightBuffer, jobject outBuffer, jint rows, jint dim,
    jfloat eps) {
  const float *x = (*env)->GetDirectBufferAddress(env, xBuffer);
  const float *weight = (*env)->GetDirectBufferAddress(env, weightBuffer);
  float *out = (*env)->GetDirectBufferAddress(env, outBuffer);
  if (x == NULL || weight == NULL || out == NULL) {
    return; /* NativeLayerOps checks these first */
  }
  rms_norm(x, weight, out, rows, dim, eps);
}

JNIEXPORT void JNICALL Java_io_lorastream_model_NativeLayerOps_addRmsNorm(
    JNIEnv *env, jclass cls, jobject xBuffer, jobject deltaBuffer, jobject weightBuffer, jobject outBuffer,
    jint rows, jint dim, jfloat eps) {
  float *x = (*env)->GetDirectBufferAddress(env, xBuffer);
  const float *delta = (*env)->GetDirectBufferAddress(env, deltaBuffer);
  const float *weight = (*env)->GetDirectBufferAddress(env, weightBuffer);
  float *out = (*env)->GetDirectBufferAddress(env, outBuffer);
  if (x == NULL || delta == NULL || weight == NULL || out == NULL) {
    return;
  }
  size_t n = (size_t) rows * dim;
  for (size_t i = 0; i < n; i++) {
    x[i] += delta[i];
  }
  rms_norm(x, weight, out, rows, dim, eps);
}

/*
 * out[b, h, t, :] = x[b, t, h, :] · cos + rotate_half(x[b, t, h, :]) · sin, where
 * rotate_half(v) = cat(-v2, v1) and cos = table[p, 0:hd], sin = table[p, hd:2hd] at the token's
 * position p = positions[r · time + t], r = b when position_rows == batch, else 0 (rows that share
 * their positions). The table is the rotary table of CausalLm, (max_positions, 2 · hd); positions
 * were checked against its length.
 */
JNIEXPORT void JNICALL Java_io_lorastream_model_NativeLayerOps_rope(
    JNIEnv *env, jclass cls, jobject xBuffer, jobject tableBuffer, jintArray positionArray, jint positionRows,
    jobject outBuffer, jint batch, jint time, jint heads, jint headDim) {
  const float *x = (*env)->GetDirectBufferAddress(env, xBuffer);
  const float *table = (*env)->GetDirectBufferAddress(env, tableBuffer);
  float *out = (*env)->GetDirectBufferAddress(env, outBuffer);
  if (x == NULL || table == NULL || out == NULL) {
    return;
  }
  jint *positions = (*env)->GetIntArrayElements(env, positionArray, NULL);
  if (positions == NULL) {
    return;
  }
  int half = headDim / 2;
  for (int b = 0; b < batch; b++) {
    const jint *rowPositions = positions + (size_t) (positionRows == batch ? b : 0) * time;
    for (int t = 0; t < time; t++) {
      const float *cos = table + (size_t) rowPositions[t] * 2 * headDim;
      const float *sin = cos + headDim;
      for (int h = 0; h < heads; h++) {
        const float *v = x + (((size_t) b * time + t) * heads + h) * headDim;
        float *o = out + (((size_t) b * heads + h) * time + t) * headDim;
        for (int i = 0; i < half; i++) {
          o[i] = v[i] * cos[i] - v[i + half] * sin[i];
        }
        for (int i = half; i < headDim; i++) {
          o[i] = v[i] * cos[i] + v[i - half] * sin[i];
        }
      }
    }
  }
  (*env)->ReleaseIntArrayElements(env, positionArray, positions, JNI_ABORT);
}

__attribute__((target_clones("avx512f", "avx2", "default")))
static void silu_mul(float *gate, const float *up, size_t n) {
  for (size_t i = 0; i < n; i++) {
    float g = gate[i];
    gate[i] = g / (1.0f + expf(-g)) * up[i];
  }
}

JNIEXPORT void JNICALL Java_io_lorastream_model_NativeLayerOps_siluMul(
    JNIEnv *env, jclass cls, jobject gateBuffer, jobject upBuffer, jlong n) {
  float *gate = (*env)->GetDirectBufferAddress(env, gateBuffer);
  const float *up = (*env)->GetDirectBufferAddress(env, upBuffer);
  if (gate == NULL || up == NULL) {
    return;
  }
  silu_mul(gate, up, (size_t) n);
}
