package io.lorastream.train;

import io.lorastream.avro.AdapterCheckpoint;
import io.lorastream.avro.AdapterSnapshot;
import io.lorastream.contract.AvroCodec;
import io.lorastream.model.BaseModel;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * What the trainer serialises for a tenant after each step, timed in process: the adapter's
 * safetensors, the checkpoint (with the optimizer state) and the snapshot, each built and Avro
 * encoded, with the trainer's default adapters. Not a test: run it with {@code java -cp
 * target/test-classes:target/classes:target/lib/* io.lorastream.train.SerializationProfile [rounds]}.
 */
public final class SerializationProfile {
  private SerializationProfile() {}

  public static void main(String[] args) {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 200;
    try (BaseModel base = BaseModel.load(Path.of("models/lorastream-tiny"))) {
      TrainerSettings settings = TrainerSettings.defaults();
      TenantStates states = new TenantStates(base, settings);
      TenantState state = states.fresh("acme");
      double[] ms = new double[rounds];
      long bytes = 0;
      for (int r = -rounds / 4; r < rounds; r++) {
        long start = System.nanoTime();
        byte[] weights = state.adapter.toPeftSafetensors();
        AdapterSnapshot snapshot = states.snapshot(state, weights, null, null, null, 0L);
        byte[] s = AvroCodec.ADAPTER_SNAPSHOT.encode(snapshot);
        AdapterCheckpoint checkpoint = states.checkpoint(state, weights, 0L);
        byte[] c = AvroCodec.ADAPTER_CHECKPOINT.encode(checkpoint);
        if (r >= 0) {
          ms[r] = (System.nanoTime() - start) / 1e6;
          bytes = s.length + c.length;
        }
      }
      Arrays.sort(ms);
      System.out.printf("weights + snapshot + checkpoint, %d bytes: median %.2f ms, p10 %.2f ms (%d rounds)%n",
          bytes, ms[rounds / 2], ms[rounds / 10], rounds);
      state.close();
    }
  }
}
