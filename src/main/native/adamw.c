/*
 * liblorastream_kernels.so: one tenant's AdamW update in one call, over all of its LoRA
 * parameters, where libtorch ran about six operations per parameter (an all-linear adapter has 56
 * of them) plus a dozen over the flattened moments: 1.6 ms of a 12 ms one-example step on
 * lorastream-tiny.
 *
 * The same arithmetic as io.lorastream.model.LoraTrainer#applyAdamW's libtorch path, in float32
 * except the gradient norm (summed in double): the global norm is clipped to maxGradNorm, then per
 * value m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g², p = decay p - stepSize m / (sqrt(v) /
 * bias2Root + eps), and the gradient is zeroed for the next step. Parameters and gradients are
 * contiguous F32 arrays in parameter order; the moments are one flat array each in that order.
 *
 * Built by src/main/native/build.sh during `mvn package`; io.lorastream.model.NativeAdamW loads it
 * and LoraTrainer keeps libtorch's operations where it is missing.
 */
#include <jni.h>
#include <math.h>
#include <string.h>

JNIEXPORT void JNICALL Java_io_lorastream_model_NativeAdamW_update(
    JNIEnv *env, jclass cls, jobjectArray params, jobjectArray grads, jobject expAvg, jobject expAvgSq,
    jfloat maxGradNorm, jfloat b1, jfloat b2, jfloat stepSize, jfloat bias2Root, jfloat eps, jfloat decay) {
  (void) cls;
  jsize count = (*env)->GetArrayLength(env, params);
  double squares = 0;
  for (jsize i = 0; i < count; i++) {
    jobject g = (*env)->GetObjectArrayElement(env, grads, i);
    const float *gv = (const float *) (*env)->GetDirectBufferAddress(env, g);
    jlong n = (*env)->GetDirectBufferCapacity(env, g) / (jlong) sizeof(float);
    for (jlong k = 0; k < n; k++) {
      squares += (double) gv[k] * gv[k];
    }
    (*env)->DeleteLocalRef(env, g);
  }
  double norm = sqrt(squares);
  float clip = 1.0f;
  if (maxGradNorm > 0 && norm > maxGradNorm) {
    clip = (float) (maxGradNorm / (norm + 1e-6));
  }
  float *m = (float *) (*env)->GetDirectBufferAddress(env, expAvg);
  float *v = (float *) (*env)->GetDirectBufferAddress(env, expAvgSq);
  float oneMinusB1 = 1.0f - b1;
  float oneMinusB2 = 1.0f - b2;
  jlong offset = 0; // of this parameter in the flat moments
  for (jsize i = 0; i < count; i++) {
    jobject p = (*env)->GetObjectArrayElement(env, params, i);
    jobject g = (*env)->GetObjectArrayElement(env, grads, i);
    float *pv = (float *) (*env)->GetDirectBufferAddress(env, p);
    float *gv = (float *) (*env)->GetDirectBufferAddress(env, g);
    jlong n = (*env)->GetDirectBufferCapacity(env, p) / (jlong) sizeof(float);
    float *mi = m + offset;
    float *vi = v + offset;
    for (jlong k = 0; k < n; k++) {
      float grad = clip == 1.0f ? gv[k] : gv[k] * clip;
      float mk = mi[k] * b1 + grad * oneMinusB1;
      float vk = vi[k] * b2 + (grad * grad) * oneMinusB2;
      mi[k] = mk;
      vi[k] = vk;
      float denominator = sqrtf(vk) / bias2Root + eps;
      float value = decay == 1.0f ? pv[k] : pv[k] * decay;
      pv[k] = value - (mk / denominator) * stepSize;
    }
    memset(gv, 0, (size_t) n * sizeof(float));
    offset += n;
    (*env)->DeleteLocalRef(env, p);
    (*env)->DeleteLocalRef(env, g);
  }
}
