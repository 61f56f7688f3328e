/*
 * liblorastream_mkl.so: lets Intel MKL pick its kernels by the instruction sets a processor
 * reports rather than by its vendor.
 *
 * libtorch's CPU build (the pytorch-native-cpu jar) links MKL statically and does its fp32
 * matrix products with MKL's sgemm. Before choosing a kernel, MKL asks
 * mkl_serv_intel_cpu_true() whether the processor is Intel's; on any other vendor's processor
 * it takes its generic AVX2 path even where the processor has AVX-512 (AMD Zen 4 and Zen 5). The
 * symbol is exported from libtorch_cpu.so and called through its procedure linkage table, so a
 * definition loaded first (LD_PRELOAD) takes its place. Answering "yes" leaves the rest of MKL's
 * dispatch as it is: it still reads the processor's feature flags and uses only instructions the
 * processor has. On an Intel processor nothing changes.
 *
 * Measured on a 2-core AMD EPYC (Zen 5) with one libtorch thread: a (448 x 192) x (192 x 512)
 * product, the size of a lorastream-tiny training step's MLP, 80 -> 184 GFLOP/s
 * (docs/BENCHMARKS.md, "MKL kernels on AMD processors").
 *
 * Built by src/main/native/build.sh during `mvn package`; ./lorastream and the test JVMs preload it.
 */
int mkl_serv_intel_cpu_true(void) {
  return 1;
}
