/*
 * liblorastream_kernels.so: the per-row LoRA term of a decode batch in one pass over each row's
 * factors, y[b, t, :] += ((x[b, t, :] Aᵀ_b) (s·B_b)ᵀ), where every row b has its own adapter.
 *
 * libtorch computes the same with two batched matrix products per projection, each of which
 * runs one small matrix-vector product per row: about 25-35 us for 32-64 rows of lorastream-tiny
 * (r 8), several times what reading the rows' factors costs. Serving systems for many adapters
 * (Punica's BGMV, S-LoRA) use a kernel of this shape for the same reason.
 *
 * Layout (io.lorastream.model.LoraSlots): slot b holds, at float offset aOffset, Aᵀ (in, rank)
 * row-major, and at bOffset, (s·B)ᵀ (rank, out) row-major; slots are slotWidth floats apart.
 * x is (rows, tokens, in) and y (rows, tokens, out), both contiguous F32.
 *
 * Built by src/main/native/build.sh during `mvn package`; io.lorastream.model.NativeRowLora loads
 * it and falls back to libtorch's products where it is missing.
 */
#include <jni.h>
#include <stdint.h>
#include <string.h>

#define MAX_RANK 256 /* NativeRowLora.MAX_RANK */

typedef float v8 __attribute__((vector_size(32)));

/*
 * h (rank) = x (in) Aᵀ (in, rank); y (out) += h (s·B)ᵀ (rank, out); rank % 8 == 0. Each loop keeps
 * its 8-float accumulator in a register: one block of h over all inputs, then one block of y over
 * all of h.
 */
__attribute__((target("avx2,fma")))
static void row_token_v8(const float *restrict x, const float *restrict aT, const float *restrict bT,
                         float *restrict y, int in, int rank, int out) {
  float h[MAX_RANK];
  for (int j = 0; j < rank; j += 8) {
    v8 acc[4] = {{0}, {0}, {0}, {0}}; // four chains, so the products do not wait on each other
    int i = 0;
    for (; i + 4 <= in; i += 4) {
      for (int u = 0; u < 4; u++) {
        v8 a;
        memcpy(&a, aT + (size_t) (i + u) * rank + j, sizeof a);
        acc[u] += x[i + u] * a;
      }
    }
    for (; i < in; i++) {
      v8 a;
      memcpy(&a, aT + (size_t) i * rank + j, sizeof a);
      acc[0] += x[i] * a;
    }
    v8 sum = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    memcpy(h + j, &sum, sizeof sum);
  }
  int o8 = out - out % 8;
  for (int o = 0; o < o8; o += 8) {
    v8 acc;
    memcpy(&acc, y + o, sizeof acc);
    for (int j = 0; j < rank; j++) {
      v8 b;
      memcpy(&b, bT + (size_t) j * out + o, sizeof b);
      acc += h[j] * b;
    }
    memcpy(y + o, &acc, sizeof acc);
  }
  for (int o = o8; o < out; o++) {
    for (int j = 0; j < rank; j++) {
      y[o] += h[j] * bT[(size_t) j * out + o];
    }
  }
}

/* The same for any rank, in plain C. */
static void row_token_any(const float *restrict x, const float *restrict aT, const float *restrict bT,
                          float *restrict y, int in, int rank, int out) {
  float h[MAX_RANK] = {0};
  for (int i = 0; i < in; i++) {
    float xi = x[i];
    const float *row = aT + (size_t) i * rank;
    for (int j = 0; j < rank; j++) {
      h[j] += xi * row[j];
    }
  }
  for (int j = 0; j < rank; j++) {
    const float *row = bT + (size_t) j * out;
    for (int o = 0; o < out; o++) {
      y[o] += h[j] * row[o];
    }
  }
}

JNIEXPORT void JNICALL Java_io_lorastream_model_NativeRowLora_addRowLora(
    JNIEnv *env, jclass cls, jobject xBuffer, jobject slotsBuffer, jlong slotWidth, jlong aOffset,
    jlong bOffset, jobject yBuffer, jint rows, jint tokens, jint in, jint rank, jint out) {
  const float *x = (*env)->GetDirectBufferAddress(env, xBuffer);
  const float *slots = (*env)->GetDirectBufferAddress(env, slotsBuffer);
  float *y = (*env)->GetDirectBufferAddress(env, yBuffer);
  if (x == NULL || slots == NULL || y == NULL || rank <= 0 || rank > MAX_RANK) {
    return; /* NativeRowLora checks these first */
  }
  int vector = rank % 8 == 0 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  for (int b = 0; b < rows; b++) {
    const float *slot = slots + (size_t) b * slotWidth;
    for (int t = 0; t < tokens; t++) {
      size_t position = (size_t) b * tokens + t;
      if (vector) {
        row_token_v8(x + position * in, slot + aOffset, slot + bOffset, y + position * out, in, rank, out);
      } else {
        row_token_any(x + position * in, slot + aOffset, slot + bOffset, y + position * out, in, rank, out);
      }
    }
  }
}
