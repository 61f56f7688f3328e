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
 * x is (rows, tokens, in) and y (rows, tokens, out), both contiguous F32. writeSlot lays one
 * projection of an adapter out in that layout when its row joins a batch.
 *
 * Rank-8 rows, the trainer's default, take 16-float registers where the processor has AVX-512
 * (LORASTREAM_ROW_LORA_AVX2=1 keeps the 8-float path, to compare): a 32-row decode projection of
 * lorastream-tiny took 10-13 us against 15-27 us (RowLoraKernelProbe).
 *
 * Built by src/main/native/build.sh during `mvn package`; io.lorastream.model.NativeRowLora loads
 * it and falls back to libtorch's products where it is missing.
 */
#include <jni.h>
#include <stdint.h>
#include <stdlib.h>
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

typedef float v16 __attribute__((vector_size(64)));

/*
 * row_token_v8 for rank 8 with 16-float registers (AVX-512): a pair of Aᵀ's rows (16 floats) per
 * product, x's two values spread over the two halves, then 16 outputs at a time.
 */
__attribute__((target("avx512f")))
static void row_token_r8_v16(const float *restrict x, const float *restrict aT, const float *restrict bT,
                             float *restrict y, int in, int out) {
  v16 acc[2] = {{0}, {0}}; // two chains of input pairs
  int i = 0;
  for (; i + 4 <= in; i += 4) {
    for (int u = 0; u < 2; u++) {
      v16 a;
      memcpy(&a, aT + (size_t) (i + 2 * u) * 8, sizeof a);
      float x0 = x[i + 2 * u];
      float x1 = x[i + 2 * u + 1];
      v16 xs = {x0, x0, x0, x0, x0, x0, x0, x0, x1, x1, x1, x1, x1, x1, x1, x1};
      acc[u] += xs * a;
    }
  }
  v16 both = acc[0] + acc[1];
  float h[8];
  for (int j = 0; j < 8; j++) {
    h[j] = both[j] + both[j + 8];
  }
  for (; i < in; i++) {
    for (int j = 0; j < 8; j++) {
      h[j] += x[i] * aT[(size_t) i * 8 + j];
    }
  }
  int o16 = out - out % 16;
  for (int o = 0; o < o16; o += 16) {
    v16 sum;
    memcpy(&sum, y + o, sizeof sum);
    for (int j = 0; j < 8; j++) {
      v16 b;
      memcpy(&b, bT + (size_t) j * out + o, sizeof b);
      sum += h[j] * b;
    }
    memcpy(y + o, &sum, sizeof sum);
  }
  for (int o = o16; o < out; o++) {
    for (int j = 0; j < 8; j++) {
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

/*
 * Whether rank-8 rows take the AVX-512 path: the processor has it, and LORASTREAM_ROW_LORA_AVX2 is
 * not set (to compare the two). Read once; a race only computes the same answer twice.
 */
static int wide_allowed(void) {
  static int allowed = -1;
  if (allowed < 0) {
    allowed = __builtin_cpu_supports("avx512f") && getenv("LORASTREAM_ROW_LORA_AVX2") == NULL;
  }
  return allowed;
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
  int wide = rank == 8 && wide_allowed();
  int vector = rank % 8 == 0 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  for (int b = 0; b < rows; b++) {
    const float *slot = slots + (size_t) b * slotWidth;
    for (int t = 0; t < tokens; t++) {
      size_t position = (size_t) b * tokens + t;
      if (wide) {
        row_token_r8_v16(x + position * in, slot + aOffset, slot + bOffset, y + position * out, in, out);
      } else if (vector) {
        row_token_v8(x + position * in, slot + aOffset, slot + bOffset, y + position * out, in, rank, out);
      } else {
        row_token_any(x + position * in, slot + aOffset, slot + bOffset, y + position * out, in, rank, out);
      }
    }
  }
}

/*
 * Lays out one projection of an adapter at float offset `offset` of the slots: Aᵀ (in, rankMax),
 * whose first `rank` columns are A (rank, in) transposed, then (s·B)ᵀ (rankMax, out), whose first
 * `rank` rows are B (out, rank) transposed and scaled; zeros elsewhere. A null A (the adapter
 * leaves this projection alone, or the row has no adapter) writes zeros only. s·B is one float
 * multiplication per value, as libtorch's mul computes it, so the slot holds the same bits as
 * LoraSlots' libtorch layout.
 */
JNIEXPORT void JNICALL Java_io_lorastream_model_NativeRowLora_writeSlot(
    JNIEnv *env, jclass cls, jobject slotsBuffer, jlong offset, jobject aBuffer, jobject bBuffer,
    jint in, jint out, jint rank, jint rankMax, jfloat scale) {
  float *slots = (*env)->GetDirectBufferAddress(env, slotsBuffer);
  if (slots == NULL) {
    return; /* NativeRowLora checks the sizes first */
  }
  float *aT = slots + offset; /* (in, rankMax) */
  float *bT = aT + (size_t) in * rankMax; /* (rankMax, out) */
  const float *a = aBuffer == NULL ? NULL : (*env)->GetDirectBufferAddress(env, aBuffer); /* (rank, in) */
  const float *b = bBuffer == NULL ? NULL : (*env)->GetDirectBufferAddress(env, bBuffer); /* (out, rank) */
  if (a == NULL || b == NULL || rank <= 0) {
    memset(aT, 0, sizeof(float) * (size_t) (in + out) * rankMax);
    return;
  }
  /* Both loops write in order; A's rows and B (out × rank, a few KB) are read from cache. */
  for (int i = 0; i < in; i++) {
    float *row = aT + (size_t) i * rankMax;
    for (int j = 0; j < rank; j++) {
      row[j] = a[(size_t) j * in + i];
    }
    for (int j = rank; j < rankMax; j++) {
      row[j] = 0.0f;
    }
  }
  for (int j = 0; j < rank; j++) {
    float *row = bT + (size_t) j * out;
    for (int o = 0; o < out; o++) {
      row[o] = b[(size_t) o * rank + j] * scale;
    }
  }
  memset(bT + (size_t) rank * out, 0, sizeof(float) * (size_t) (rankMax - rank) * out);
}
