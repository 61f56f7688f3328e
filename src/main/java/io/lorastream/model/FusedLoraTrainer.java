package io.lorastream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.function.Supplier;

/**
 * One training step for several tenants in a single forward and backward pass: every tenant's
 * rows go into one batch, each row with its tenant's adapter ({@link RowLora}), then each tenant
 * takes its own clipped AdamW step on its own gradients.
 *
 * <p>The loss is the sum over tenants of each tenant's loss as {@link LoraTrainer#step(List)}
 * defines it (the weighted mean over its own examples). Rows do not interact (attention stays
 * within a row) and a tenant's loss depends only on its own adapter, so each tenant's gradient
 * is the one its separate step computes, and its update, clipping and step count are the same;
 * another tenant's data cannot reach its weights. Only the tenants given are stacked: a tenant
 * absent from the batch has no gradient and no AdamW step (Adam would move weights even on a zero
 * gradient). LoRA dropout draws each tenant's masks from its own stream in the order of its
 * separate step, so dropout keeps that equality too.
 */
public final class FusedLoraTrainer {
  private FusedLoraTrainer() {}

  /**
   * One tenant's share of a fused step, and the share of its learning rate this step takes
   * ({@link LoraTrainer#step(List, float)}).
   */
  public record TenantBatch(LoraTrainer trainer, List<TrainingPair> batch, float learningRateScale) {
    public TenantBatch {
      Objects.requireNonNull(trainer, "trainer");
      batch = List.copyOf(batch);
      if (batch.isEmpty()) {
        throw new IllegalArgumentException("a tenant in a fused step needs at least one example");
      }
      LoraTrainer.checkLearningRateScale(learningRateScale);
    }

    /** A share of a step at the trainer's full learning rate. */
    public TenantBatch(LoraTrainer trainer, List<TrainingPair> batch) {
      this(trainer, batch, 1f);
    }
  }

  /**
   * One AdamW step per tenant from one shared forward and backward pass. The trainers are locked
   * in the order given for the whole step; a trainer must not be in two fused steps that run at
   * once with the tenants in different orders.
   *
   * @return each tenant's batch loss before its update, in the order of {@code tenants}
   * @throws IllegalStateException when a tenant's loss is not finite; then no adapter is updated
   */
  public static float[] step(List<TenantBatch> tenants) {
    if (tenants.isEmpty()) {
      throw new IllegalArgumentException("no tenants to train");
    }
    Set<LoraTrainer> seen = Collections.newSetFromMap(new IdentityHashMap<>());
    BaseModel base = tenants.get(0).trainer().base();
    for (TenantBatch t : tenants) {
      if (!seen.add(t.trainer())) {
        throw new IllegalArgumentException("a trainer appears twice in one fused step");
      }
      if (t.trainer().base() != base) {
        throw new IllegalArgumentException("trainers of one fused step must share one base model");
      }
    }
    List<LoraTrainer.EncodedBatch> encoded = encode(tenants);
    return locked(tenants, 0, () -> stepLocked(base, tenants, encoded));
  }

  /**
   * Each tenant's rows: when every trainer packs ({@link LoraTrainer#encodeForStep}), its examples
   * packed into rows as long as the longest example of the whole step, so a tenant's short
   * examples (its rehearsal exchanges) share rows and the step has fewer rows and padded positions;
   * otherwise (LoRA dropout, packing off) one example per row, the layout the dropout masks are
   * drawn over.
   */
  static List<LoraTrainer.EncodedBatch> encode(List<TenantBatch> tenants) {
    List<LoraTrainer.EncodedBatch> encoded = new ArrayList<>(tenants.size());
    if (!tenants.stream().allMatch(t -> t.trainer().packs())) {
      for (TenantBatch t : tenants) {
        encoded.add(t.trainer().encode(t.batch()));
      }
      return encoded;
    }
    List<List<LoraTrainer.Sequence>> sequences = new ArrayList<>(tenants.size());
    int length = 0;
    for (TenantBatch t : tenants) {
      List<LoraTrainer.Sequence> s = t.trainer().sequences(t.batch());
      sequences.add(s);
      length = Math.max(length, LoraTrainer.longestInputs(s));
    }
    for (int t = 0; t < tenants.size(); t++) {
      encoded.add(tenants.get(t).trainer().encodePacked(sequences.get(t), length));
    }
    return encoded;
  }

  private static float[] locked(List<TenantBatch> tenants, int i, Supplier<float[]> body) {
    if (i == tenants.size()) {
      return body.get();
    }
    synchronized (tenants.get(i).trainer()) {
      return locked(tenants, i + 1, body);
    }
  }

  private static float[] stepLocked(
      BaseModel base, List<TenantBatch> tenants, List<LoraTrainer.EncodedBatch> encoded) {
    // Rows of all tenants, tenant after tenant, right-padded to the longest (padding masked); packed
    // rows are all the step's length already.
    int rows = 0;
    int length = 0;
    for (LoraTrainer.EncodedBatch e : encoded) {
      rows += e.size();
      length = Math.max(length, e.length());
    }
    long[] inputs = new long[rows * length];
    long[] targets = new long[rows * length];
    float[] weights = new float[rows * length];
    boolean packed = encoded.get(0).packed(); // all or none (encode)
    int[] positions = packed ? new int[rows * length] : null;
    int[] attendFrom = packed ? new int[rows * length] : null;
    Arrays.fill(inputs, base.tokenizer().eosId());
    Arrays.fill(targets, base.tokenizer().eosId());
    List<LoraAdapter> rowAdapters = new ArrayList<>(rows);
    List<RowLora.RowDropout.Block> dropoutBlocks = new ArrayList<>();
    int[] firstRow = new int[tenants.size()];
    int row = 0;
    for (int t = 0; t < tenants.size(); t++) {
      LoraTrainer.EncodedBatch e = encoded.get(t);
      LoraTrainer trainer = tenants.get(t).trainer();
      firstRow[t] = row;
      for (int b = 0; b < e.size(); b++, row++) {
        System.arraycopy(e.inputs(), b * e.length(), inputs, row * length, e.length());
        System.arraycopy(e.targets(), b * e.length(), targets, row * length, e.length());
        System.arraycopy(e.weights(), b * e.length(), weights, row * length, e.length());
        if (packed) { // every tenant's rows are the step's length
          System.arraycopy(e.positions(), b * length, positions, row * length, length);
          System.arraycopy(e.attendFrom(), b * length, attendFrom, row * length, length);
        }
        rowAdapters.add(trainer.adapter());
      }
      dropoutBlocks.add(
          new RowLora.RowDropout.Block(
              firstRow[t], e.size(), e.length(), trainer.adapter(), trainer.dropoutForStep()));
    }

    CausalLm lm = new CausalLm(base);
    boolean gradMode = JniUtils.isGradMode();
    try (NDManager manager = NDManager.newBaseManager(base.manager().getDevice());
        NDScope scope = new NDScope()) {
      JniUtils.setGradMode(true);
      NDArray tokenIds = manager.create(inputs, new Shape(rows, length));
      RowLora lora =
          RowLora.gather(base, rowAdapters, manager, new RowLora.RowDropout(dropoutBlocks));
      // Only the counted positions (completion and eos) go through the final norm and head.
      LoraTrainer.Counted counted = LoraTrainer.Counted.of(targets, weights);
      NDArray hidden = packed // (rows, length, dim)
          ? lm.hiddenRowsPacked(tokenIds, lora, positions, attendFrom)
          : lm.hiddenRows(tokenIds, lora);
      NDArray logits = lm.logitsAt(hidden, counted.positions()); // (N, vocab)
      NDArray weighted = logits.logSoftmax(-1)
          .gather(manager.create(counted.targets()).expandDims(-1), -1).squeeze(-1)
          .mul(manager.create(counted.weights())); // (N): weight × log p
      NDArray loss = weighted.sum().neg(); // sum over tenants of their weighted mean losses
      List<NDArray> parameters = new ArrayList<>();
      tenants.forEach(t -> parameters.addAll(t.trainer().parameters()));
      LossScaler.of(base).backward(loss, parameters, () -> tenants.forEach(t -> t.trainer().zeroGradients()));
      JniUtils.setGradMode(false);

      float[] perPosition = weighted.toFloatArray();
      double[] sums = new double[tenants.size()];
      int tenant = 0;
      for (int j = 0; j < perPosition.length; j++) {
        int positionRow = (int) (counted.positions()[j] / length);
        while (tenant + 1 < tenants.size() && positionRow >= firstRow[tenant + 1]) {
          tenant++;
        }
        sums[tenant] -= perPosition[j];
      }
      float[] losses = new float[tenants.size()];
      for (int t = 0; t < tenants.size(); t++) {
        losses[t] = (float) sums[t];
        if (!Float.isFinite(losses[t])) {
          throw new IllegalStateException(
              "loss of tenant " + t + " in the fused step is " + losses[t]
                  + "; no adapter was updated");
        }
      }
      for (int t = 0; t < tenants.size(); t++) {
        tenants.get(t).trainer().applyAdamW(tenants.get(t).learningRateScale());
        tenants.get(t).trainer().stepTook(encoded.get(t));
      }
      return losses;
    } catch (RuntimeException e) {
      for (TenantBatch t : tenants) {
        t.trainer().zeroGradients(); // a failed step must not leak gradients into the next one
      }
      throw e;
    } finally {
      JniUtils.setGradMode(gradMode);
    }
  }
}
