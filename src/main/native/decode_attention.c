/*
 * Part of liblorastream_kernels.so: grouped-query attention of one new token per row over the
 * rows' cached keys and values, the decode step's attention in one call.
 *
 * libtorch computes it with about nine operations per layer (reshapes, two batched products of
 * one small matrix per row and head group, the mask, softmax); at 32 rows and 40 cached slots
 * the arithmetic is about 1 MFLOP, so the operations' own costs dominate.
 *
 * Layouts (all F32, contiguous): q (rows, heads, head_dim), already scaled by 1/sqrt(head_dim)
 * (the rotary factors carry it); keys and values (rows, kv_heads, slots, head_dim); out
 * (rows, heads · head_dim). Query head h uses key/value head h / (heads / kv_heads). Row b attends
 * slots first[b] .. slots-1: earlier slots are left padding, which libtorch's mask removes the
 * same way (its masked scores' weights are exactly 0).
 *
 * Built by src/main/native/build.sh; io.lorastream.model.NativeAttention calls it.
 */
#include <jni.h>
#include <float.h>
#include <stdlib.h>
#include <string.h>

typedef float v8 __attribute__((vector_size(32)));

/*
 * glibc's expf, and its vector variants in libmvec (at most 4 ulp), which the compiler calls for
 * a loop of exponentials: the softmax's expf calls one by one were most of this kernel's time.
 */
float expf(float x) __attribute__((simd("notinbranch"), nothrow, const));

/* a · b over n floats, n % 8 == 0: 8-float partial sums in registers. */
__attribute__((target("avx2,fma")))
static float dot_v8(const float *a, const float *b, int n) {
  v8 acc = {0};
  for (int i = 0; i < n; i += 8) {
    v8 x, y;
    memcpy(&x, a + i, sizeof x);
    memcpy(&y, b + i, sizeof y);
    acc += x * y;
  }
  float lanes[8];
  memcpy(lanes, &acc, sizeof lanes);
  return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

/* w[s] = exp(w[s] - max) for s < n, 8 at a time (libmvec's AVX2 expf). */
__attribute__((target("avx2,fma")))
static void exp_shifted_v8(float *w, int n, float max) {
  for (int s = 0; s < n; s++) {
    w[s] = expf(w[s] - max);
  }
}

static void exp_shifted_any(float *w, int n, float max) {
  for (int s = 0; s < n; s++) {
    w[s] = expf(w[s] - max);
  }
}

static float dot_any(const float *a, const float *b, int n) {
  float sum = 0;
  for (int i = 0; i < n; i++) {
    sum += a[i] * b[i];
  }
  return sum;
}

JNIEXPORT void JNICALL Java_io_lorastream_model_NativeAttention_decode(
    JNIEnv *env, jclass cls, jobject qBuffer, jobject keysBuffer, jobject valuesBuffer, jintArray firstSlots,
    jobject outBuffer, jint rows, jint heads, jint kvHeads, jint slots, jint headDim) {
  const float *q = (*env)->GetDirectBufferAddress(env, qBuffer);
  const float *keys = (*env)->GetDirectBufferAddress(env, keysBuffer);
  const float *values = (*env)->GetDirectBufferAddress(env, valuesBuffer);
  float *out = (*env)->GetDirectBufferAddress(env, outBuffer);
  if (q == NULL || keys == NULL || values == NULL || out == NULL || slots <= 0 || kvHeads <= 0) {
    return; /* NativeAttention checks these first */
  }
  jint *first = (*env)->GetIntArrayElements(env, firstSlots, NULL);
  float *weights = malloc(sizeof(float) * (size_t) slots);
  if (first == NULL || weights == NULL) {
    free(weights);
    if (first != NULL) {
      (*env)->ReleaseIntArrayElements(env, firstSlots, first, JNI_ABORT);
    }
    return;
  }
  int group = heads / kvHeads;
  int vector = headDim % 8 == 0 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  for (int b = 0; b < rows; b++) {
    int from = first[b] < 0 ? 0 : first[b];
    for (int h = 0; h < heads; h++) {
      int g = h / group;
      const float *query = q + ((size_t) b * heads + h) * headDim;
      const float *k = keys + ((size_t) b * kvHeads + g) * slots * headDim;
      const float *v = values + ((size_t) b * kvHeads + g) * slots * headDim;
      float *o = out + ((size_t) b * heads + h) * headDim;
      float max = -FLT_MAX;
      for (int s = from; s < slots; s++) {
        const float *key = k + (size_t) s * headDim;
        float score = vector ? dot_v8(query, key, headDim) : dot_any(query, key, headDim);
        weights[s] = score;
        max = score > max ? score : max;
      }
      float sum = 0;
      float *w = weights + from;
      int count = slots - from;
      if (vector) {
        exp_shifted_v8(w, count, max);
      } else {
        exp_shifted_any(w, count, max);
      }
      for (int s = 0; s < count; s++) {
        sum += w[s];
      }
      for (int d = 0; d < headDim; d++) {
        o[d] = 0;
      }
      for (int s = from; s < slots; s++) {
        float w = weights[s] / sum;
        const float *value = v + (size_t) s * headDim;
        for (int d = 0; d < headDim; d++) {
          o[d] += w * value[d];
        }
      }
    }
  }
  free(weights);
  (*env)->ReleaseIntArrayElements(env, firstSlots, first, JNI_ABORT);
}
