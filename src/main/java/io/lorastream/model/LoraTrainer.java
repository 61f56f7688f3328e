package io.lorastream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One tenant's training state: a trainable {@link LoraAdapter} on the frozen base and the AdamW
 * moments of its parameters.
 *
 * <p>A step may run on any thread (one at a time per trainer): it turns autograd on for its own
 * thread, calls backward directly (DJL's GradientCollector allows one per process), and restores
 * the thread's grad mode afterwards. All intermediates of a step live in an {@link NDScope}, so
 * memory stays flat over any number of steps. The adapter is updated in place: serve a
 * {@link LoraAdapter#copy()} rather than the live adapter while training continues.
 */
public final class LoraTrainer implements AutoCloseable {
  private static final String EXP_AVG = ".exp_avg";
  private static final String EXP_AVG_SQ = ".exp_avg_sq";

  private final BaseModel base;
  private final CausalLm lm;
  private final LoraAdapter adapter;
  private final TrainingSettings settings;
  private final NDManager manager; // owns the AdamW moments
  private final Map<String, NDArray> parameters; // PEFT key -> A or B of the adapter
  // AdamW works on all parameters at once, flattened one after another in the order of
  // `parameters`: a handful of tensor operations per step instead of a dozen per parameter (an
  // all-linear adapter has 56 parameters, and per parameter its update cost a third of a
  // 1-example step of lorastream-tiny).
  private final Shape[] shapes; // each parameter's shape
  private final long[] splits; // where each parameter after the first starts in the flat order
  private final NDArray expAvg; // (P) first moments of the P parameter values
  private final NDArray expAvgSq; // (P) second moments
  private long step;
  private long lastStepInputTokens;
  private final boolean nativeAdamW;

  public LoraTrainer(BaseModel base, LoraAdapter adapter, TrainingSettings settings) {
    this(base, adapter, settings, true);
  }

  /**
   * @param nativeAdamW let {@link NativeAdamW} update the parameters where it can; false keeps
   *     libtorch's operations (to compare the two)
   */
  LoraTrainer(BaseModel base, LoraAdapter adapter, TrainingSettings settings, boolean nativeAdamW) {
    this.nativeAdamW = nativeAdamW;
    if (!adapter.baseModelSha256().equals(base.weightsSha256())) {
      throw new IllegalArgumentException("adapter was made for another base model");
    }
    this.base = base;
    this.lm = new CausalLm(base);
    this.adapter = adapter;
    this.settings = settings;
    this.manager = NDManager.newBaseManager(base.manager().getDevice());
    this.parameters = adapter.peftTensors();
    if (parameters.isEmpty()) {
      throw new IllegalArgumentException("the adapter has no trainable parameters");
    }
    this.shapes = new Shape[parameters.size()];
    this.splits = new long[parameters.size() - 1];
    long values = 0;
    int i = 0;
    for (NDArray p : parameters.values()) {
      p.setRequiresGradient(true);
      shapes[i] = p.getShape();
      if (i > 0) {
        splits[i - 1] = values;
      }
      values += p.getShape().size();
      i++;
    }
    this.expAvg = manager.zeros(new Shape(values), DataType.FLOAT32);
    this.expAvgSq = manager.zeros(new Shape(values), DataType.FLOAT32);
  }

  public LoraAdapter adapter() {
    return adapter;
  }

  BaseModel base() {
    return base;
  }

  public TrainingSettings settings() {
    return settings;
  }

  /**
   * Tokens the last step fed through the model, padding excluded, as {@link #inputTokens} counts
   * them (without tokenising the batch again).
   */
  public synchronized long lastStepInputTokens() {
    return lastStepInputTokens;
  }

  /** Records what a step (this trainer's or a fused one) fed through the model for this adapter. */
  void stepTook(EncodedBatch batch) {
    lastStepInputTokens = batch.tokens();
  }

  /** Number of optimizer steps taken (AdamW's t). */
  public synchronized long step() {
    return step;
  }

  /**
   * One AdamW step on {@code batch}: causal LM cross-entropy on the completion and eos tokens
   * (prompt and padding masked). Each example's loss is the mean over its tokens; the batch loss
   * is the weight-averaged mean of the examples.
   *
   * @return the batch loss before the update
   */
  public float step(List<TrainingPair> batch) {
    return step(batch, 1f);
  }

  /**
   * As {@link #step(List)}, with the learning rate (and the weight decay it scales) multiplied by
   * {@code learningRateScale} for this step only: a caller that cuts a stream of examples into steps
   * of different sizes takes smaller steps on fewer examples.
   *
   * @param learningRateScale in (0, 1]
   */
  public synchronized float step(List<TrainingPair> batch, float learningRateScale) {
    checkLearningRateScale(learningRateScale);
    EncodedBatch encoded = encodeForStep(batch);
    boolean gradMode = JniUtils.isGradMode();
    try (NDScope scope = new NDScope()) {
      JniUtils.setGradMode(true);
      NDArray loss = lossOf(encoded, dropoutForStep());
      LossScaler.of(base).backward(loss, parameters.values(), this::zeroGradients);
      JniUtils.setGradMode(false);
      float value = loss.getFloat();
      if (!Float.isFinite(value)) {
        throw new IllegalStateException("loss is " + value + "; the adapter was not updated");
      }
      applyAdamW(learningRateScale);
      stepTook(encoded);
      return value;
    } catch (RuntimeException e) {
      zeroGradients(); // a failed step must not leak gradients into the next one
      throw e;
    } finally {
      JniUtils.setGradMode(gradMode);
    }
  }

  /** The batch loss as {@link #step(List)} defines it, without gradients or an update. */
  public synchronized float loss(List<TrainingPair> batch) {
    EncodedBatch encoded = encodeForStep(batch);
    boolean gradMode = JniUtils.isGradMode();
    try (NDScope scope = new NDScope()) {
      JniUtils.setGradMode(false);
      return lossOf(encoded, null).getFloat();
    } finally {
      JniUtils.setGradMode(gradMode);
    }
  }

  /**
   * One example's loss, unweighted: the sum of {@code -log p} over its completion and eos tokens
   * (nats) and how many of them there are. {@link #step(List)}'s batch loss is the weight-averaged
   * mean over the examples with a token of {@code lossSum / tokens}.
   */
  public record RowLoss(float lossSum, int tokens) {
    /** Mean loss per token (nats); NaN when the example has no completion token. */
    public float mean() {
      return tokens == 0 ? Float.NaN : lossSum / tokens;
    }
  }

  /**
   * Each example's {@link RowLoss} under the current weights, in the order of {@code batch},
   * without gradients or an update. A row attends only to itself (causal, right padding), so its
   * loss does not depend on the other rows of the pass up to float rounding: losses of examples
   * evaluated in different passes can be combined.
   */
  public synchronized RowLoss[] rowLosses(List<TrainingPair> batch) {
    List<TrainingPair> unweighted = batch.stream().map(p -> new TrainingPair(p.prompt(), p.completion(), 1f)).toList();
    EncodedBatch encoded = encode(unweighted); // one example per row
    Counted counted = Counted.of(encoded);
    boolean gradMode = JniUtils.isGradMode();
    float[] picked;
    try (NDScope scope = new NDScope()) {
      JniUtils.setGradMode(false);
      NDArray logits = lm.logitsAt(hidden(encoded, null), counted.positions()); // (N, vocab)
      picked = logits.logSoftmax(-1)
          .gather(manager.create(counted.targets()).expandDims(-1), -1).squeeze(-1).toFloatArray(); // (N)
    } finally {
      JniUtils.setGradMode(gradMode);
    }
    float[] sums = new float[encoded.size];
    int[] tokens = new int[encoded.size];
    for (int j = 0; j < picked.length; j++) {
      int row = (int) (counted.positions()[j] / encoded.length);
      sums[row] -= picked[j];
      tokens[row]++;
    }
    RowLoss[] rows = new RowLoss[encoded.size];
    for (int b = 0; b < rows.length; b++) {
      rows[b] = new RowLoss(sums[b], tokens[b]);
    }
    return rows;
  }

  /**
   * Gradients of the loss {@link #step(List)} minimises (without dropout), by PEFT key, flattened;
   * nothing is updated. For checks against an independent implementation.
   */
  synchronized Map<String, float[]> gradients(List<TrainingPair> batch) {
    EncodedBatch encoded = encodeForStep(batch);
    boolean gradMode = JniUtils.isGradMode();
    try (NDScope scope = new NDScope()) {
      JniUtils.setGradMode(true);
      NDArray loss = lossOf(encoded, null);
      JniUtils.backward((PtNDArray) loss, (PtNDArray) loss.onesLike(), false, false);
      JniUtils.setGradMode(false);
      Map<String, float[]> out = new LinkedHashMap<>();
      parameters.forEach((key, p) -> out.put(key, p.getGradient().toFloatArray()));
      return out;
    } finally {
      zeroGradients();
      JniUtils.setGradMode(gradMode);
    }
  }

  /** The parameters' gradients as they are now (zero between steps), by PEFT key; for tests. */
  synchronized Map<String, float[]> gradientValues() {
    Map<String, float[]> out = new LinkedHashMap<>();
    try (NDScope scope = new NDScope()) {
      parameters.forEach((key, p) -> out.put(key, p.getGradient().toFloatArray()));
    }
    return out;
  }

  CausalLm.LoraDropout dropoutForStep() {
    float p = adapter.config().dropout();
    // A fresh, reproducible mask stream per step: resuming at step t draws the same masks.
    return p > 0 ? new CausalLm.LoraDropout(p, settings.seed() * 0x9E3779B97F4A7C15L + step) : null;
  }

  /**
   * Scalar loss: - sum over (b, t) of weight[b, t] * log p(target[b, t]). Only the N counted
   * positions (completion tokens and eos) go through the final norm, the head and the softmax: the
   * others weigh 0, and in prompt-heavy examples they are most of the positions.
   */
  private NDArray lossOf(EncodedBatch batch, CausalLm.LoraDropout dropout) {
    Counted counted = Counted.of(batch);
    NDArray logits = lm.logitsAt(hidden(batch, dropout), counted.positions()); // (N, vocab)
    NDArray picked = logits.logSoftmax(-1)
        .gather(manager.create(counted.targets()).expandDims(-1), -1).squeeze(-1); // (N)
    return picked.mul(manager.create(counted.weights())).sum().neg();
  }

  /** The decoder's output for the batch's layout: (B, T, dim). */
  private NDArray hidden(EncodedBatch batch, CausalLm.LoraDropout dropout) {
    NDArray inputs = manager.create(batch.inputs, new Shape(batch.size, batch.length));
    return batch.packed()
        ? lm.hiddenPacked(inputs, adapter, batch.positions(), batch.attendFrom(), dropout)
        : lm.hidden(inputs, adapter, dropout);
  }

  /**
   * The positions a loss counts (weight > 0), flat in B·T and in order, with their targets and
   * weights.
   */
  record Counted(long[] positions, long[] targets, float[] weights) {
    static Counted of(EncodedBatch batch) {
      return of(batch.targets(), batch.weights());
    }

    /** From flat (B·T) targets and per-token weights. */
    static Counted of(long[] allTargets, float[] allWeights) {
      int n = 0;
      for (float w : allWeights) {
        if (w > 0) {
          n++;
        }
      }
      long[] positions = new long[n];
      long[] targets = new long[n];
      float[] weights = new float[n];
      int j = 0;
      for (int i = 0; i < allWeights.length; i++) {
        if (allWeights[i] > 0) {
          positions[j] = i;
          targets[j] = allTargets[i];
          weights[j] = allWeights[i];
          j++;
        }
      }
      return new Counted(positions, targets, weights);
    }
  }

  static void checkLearningRateScale(float scale) {
    if (!(scale > 0 && scale <= 1)) {
      throw new IllegalArgumentException("a learning rate scale must lie in (0, 1], got " + scale);
    }
  }

  /**
   * Global-norm clipping, then PyTorch's AdamW update at {@code learningRateScale} × the learning
   * rate; in place, with grad mode off.
   */
  void applyAdamW(float learningRateScale) {
    step++;
    double lr = (double) settings.learningRate() * learningRateScale;
    float b1 = settings.beta1();
    float b2 = settings.beta2();
    double bias1 = 1 - Math.pow(b1, step);
    double bias2 = 1 - Math.pow(b2, step);
    float stepSize = (float) (lr / bias1);
    float bias2Root = (float) Math.sqrt(bias2);
    float decay = (float) (1 - lr * settings.weightDecay());
    if (updatesNatively()) {
      // One call instead of about six operations per parameter; it zeroes the gradients too.
      NativeAdamW.update(parameters.values(), expAvg, expAvgSq, settings.maxGradNorm(), b1, b2, stepSize,
          bias2Root, settings.epsilon(), decay);
      return;
    }
    NDList flat = new NDList(shapes.length);
    for (NDArray p : parameters.values()) {
      flat.add(p.getGradient().reshape(-1));
    }
    NDArray g = NDArrays.concat(flat); // (P) every gradient, in the order of `parameters`
    double norm = Math.sqrt(g.square().sum().getFloat());
    if (settings.maxGradNorm() > 0 && norm > settings.maxGradNorm()) {
      g = g.mul((float) (settings.maxGradNorm() / (norm + 1e-6)));
    }
    expAvg.muli(b1).addi(g.mul(1 - b1));
    expAvgSq.muli(b2).addi(g.square().mul(1 - b2));
    NDArray denominator = expAvgSq.sqrt().div(bias2Root).add(settings.epsilon());
    NDList updates = expAvg.div(denominator).mul(stepSize).split(splits); // (P) cut per parameter
    int i = 0;
    for (NDArray p : parameters.values()) {
      if (decay != 1f) {
        p.muli(decay);
      }
      p.subi(updates.get(i).reshape(shapes[i]));
      i++;
    }
    zeroGradients();
  }

  /** The trainable A and B arrays of the adapter. */
  Collection<NDArray> parameters() {
    return parameters.values();
  }

  /** Whether {@link #applyAdamW} goes through {@link NativeAdamW}. */
  boolean updatesNatively() {
    return nativeAdamW && NativeAdamW.fits(parameters.values(), expAvg);
  }

  void zeroGradients() {
    for (NDArray p : parameters.values()) {
      if (p.hasGradient()) {
        JniUtils.zeroGrad((PtNDArray) p);
      }
    }
  }

  /**
   * Tokens a step on {@code batch} feeds through the model, padding excluded: per example
   * {@code [bos] + prompt + completion + [eos]} cut to maxSequenceLength, less one (the last token
   * is only a target).
   */
  public long inputTokens(List<TrainingPair> batch) {
    TextTokenizer tokenizer = base.tokenizer();
    long sum = 0;
    for (TrainingPair p : batch) {
      int length = 2 + tokenizer.encode(p.prompt()).length + tokenizer.encode(p.completion()).length;
      sum += Math.min(settings.maxSequenceLength(), length) - 1;
    }
    return sum;
  }

  /**
   * Positions a step on {@code batch} computes: rows × row length of its layout, padding included
   * (compare {@link #inputTokens}, which leaves padding out).
   */
  public long stepPositions(List<TrainingPair> batch) {
    EncodedBatch layout = encodeForStep(batch);
    return (long) layout.size() * layout.length();
  }

  /**
   * Token layout of a batch: its input tokens (padding excluded), flattened (B, T) inputs, targets
   * and per-token loss weights; for a
   * packed batch ({@link #encodePacked}) also each token's position in its example and the first
   * slot of its example in the row, null when every row is one example from slot 0.
   */
  record EncodedBatch(int size, int length, long tokens, long[] inputs, long[] targets, float[] weights,
      int[] positions, int[] attendFrom) {
    boolean packed() {
      return positions != null;
    }
  }

  /**
   * One example as the model sees it: {@code [bos] + prompt + completion + [eos]} cut to
   * maxSequenceLength, the index of its first completion token and its weight.
   */
  record Sequence(int[] tokens, int firstTarget, float weight) {
    /** Positions fed to the model: all but the last token, which is only a target. */
    int inputs() {
      return tokens.length - 1;
    }

    /** Completion tokens and eos kept: the tokens its loss counts. */
    int counted() {
      return tokens.length - firstTarget;
    }
  }

  /**
   * {@code [bos] + prompt + completion + [eos]}, cut to maxSequenceLength by dropping prompt tokens
   * from the left first (keeping bos), then the end; inputs are the sequence without its last
   * token, targets without its first; one example per row, right padding, masked.
   */
  EncodedBatch encode(List<TrainingPair> batch) {
    return oneExamplePerRow(sequences(batch));
  }

  private EncodedBatch oneExamplePerRow(List<Sequence> sequences) {
    int length = longestInputs(sequences);
    EncodedBatch out = empty(sequences, sequences.size(), length, false);
    double totalWeight = totalWeight(sequences);
    for (int b = 0; b < sequences.size(); b++) {
      place(sequences.get(b), totalWeight, out, b * length, b * length);
    }
    return out;
  }

  /**
   * The layout steps and losses use: {@link #encodePacked} unless the settings turn packing off or
   * the adapter has LoRA dropout. Dropout masks are drawn over the layout's shape, and a fused step
   * ({@link FusedLoraTrainer}) draws each tenant's over the padded layout, so with dropout a
   * separate step keeps that layout to give the fused step's update.
   */
  EncodedBatch encodeForStep(List<TrainingPair> batch) {
    return packs() ? encodePacked(batch) : encode(batch);
  }

  /** True when this trainer's steps use packed rows ({@link #encodeForStep}). */
  boolean packs() {
    return settings.packSequences() && adapter.config().dropout() == 0;
  }

  /**
   * As {@link #encode}, but examples share rows where they fit: longest first, each into the first
   * row with room (rows as long as the longest example), one after another, each attending only to
   * itself with positions from 0. The loss and gradients are those of {@link #encode}'s layout;
   * with examples of different lengths (a step's rehearsal exchanges are a third of its tenant
   * examples' length in the e2e workload) there are fewer rows and padded positions to compute.
   * When no two examples fit in one row this is {@link #encode}'s layout.
   */
  EncodedBatch encodePacked(List<TrainingPair> batch) {
    List<Sequence> sequences = sequences(batch);
    EncodedBatch packed = encodePacked(sequences, longestInputs(sequences));
    return packed.size() == sequences.size() ? oneExamplePerRow(sequences) : packed;
  }

  /**
   * As {@link #encodePacked(List)} with rows of {@code length} positions (at least the longest
   * example's inputs), and always in the packed layout (positions and attendFrom set), also when
   * every example takes a row of its own: a fused step packs each tenant's examples into rows as
   * long as the longest row of all its tenants.
   */
  EncodedBatch encodePacked(List<Sequence> sequences, int length) {
    if (length < longestInputs(sequences)) {
      throw new IllegalArgumentException("rows of " + length + " positions cannot hold an example of "
          + longestInputs(sequences));
    }
    Integer[] longestFirst = new Integer[sequences.size()];
    for (int i = 0; i < longestFirst.length; i++) {
      longestFirst[i] = i;
    }
    Arrays.sort(longestFirst, (x, y) -> Integer.compare(sequences.get(y).inputs(), sequences.get(x).inputs()));
    List<List<Integer>> rows = new ArrayList<>();
    List<Integer> used = new ArrayList<>();
    for (int i : longestFirst) {
      int need = sequences.get(i).inputs();
      int row = 0;
      while (row < rows.size() && used.get(row) + need > length) {
        row++;
      }
      if (row == rows.size()) {
        rows.add(new ArrayList<>());
        used.add(0);
      }
      rows.get(row).add(i);
      used.set(row, used.get(row) + need);
    }
    EncodedBatch out = empty(sequences, rows.size(), length, true);
    double totalWeight = totalWeight(sequences);
    for (int r = 0; r < rows.size(); r++) {
      int offset = r * length;
      for (int i : rows.get(r)) {
        place(sequences.get(i), totalWeight, out, r * length, offset);
        offset += sequences.get(i).inputs();
      }
      for (int slot = offset; slot < (r + 1) * length; slot++) {
        out.attendFrom()[slot] = slot - r * length; // padding attends to itself; its loss is masked
      }
    }
    return out;
  }

  /** The longest example's inputs (the positions fed to the model) of {@code sequences}. */
  static int longestInputs(List<Sequence> sequences) {
    return sequences.stream().mapToInt(Sequence::inputs).max().orElseThrow();
  }

  /** The batch's examples as the model sees them ({@link Sequence}), in order. */
  List<Sequence> sequences(List<TrainingPair> batch) {
    if (batch.isEmpty()) {
      throw new IllegalArgumentException("empty batch");
    }
    TextTokenizer tokenizer = base.tokenizer();
    int max = settings.maxSequenceLength();
    List<Sequence> sequences = new ArrayList<>(batch.size());
    for (TrainingPair pair : batch) {
      int[] prompt = tokenizer.encode(pair.prompt());
      int[] completion = tokenizer.encode(pair.completion());
      int overflow = Math.max(0, 2 + prompt.length + completion.length - max);
      int promptDrop = Math.min(overflow, prompt.length);
      int[] seq = new int[2 + prompt.length - promptDrop + completion.length];
      seq[0] = tokenizer.bosId();
      System.arraycopy(prompt, promptDrop, seq, 1, prompt.length - promptDrop);
      System.arraycopy(completion, 0, seq, 1 + prompt.length - promptDrop, completion.length);
      seq[seq.length - 1] = tokenizer.eosId();
      sequences.add(new Sequence(seq.length > max ? Arrays.copyOf(seq, max) : seq, 1 + prompt.length - promptDrop,
          pair.weight()));
    }
    if (!(totalWeight(sequences) > 0)) {
      throw new IllegalArgumentException("batch has no completion token with a positive weight");
    }
    return sequences;
  }

  /** Sum of the weights of the examples with at least one completion token kept. */
  private static double totalWeight(List<Sequence> sequences) {
    double total = 0;
    for (Sequence s : sequences) {
      total += s.counted() > 0 ? s.weight() : 0;
    }
    return total;
  }

  private EncodedBatch empty(List<Sequence> sequences, int rows, int length, boolean packed) {
    long[] inputs = new long[rows * length];
    Arrays.fill(inputs, base.tokenizer().eosId()); // padding: any valid id, its loss is masked
    long tokens = sequences.stream().mapToLong(Sequence::inputs).sum();
    return new EncodedBatch(rows, length, tokens, inputs, new long[rows * length], new float[rows * length],
        packed ? new int[rows * length] : null, packed ? new int[rows * length] : null);
  }

  /**
   * Writes {@code s} into {@code out} from flat index {@code at} on, in a row starting at flat index
   * {@code rowStart}. Each counted token weighs {@code weight / (totalWeight × counted)}, so the
   * batch loss is the weight-averaged mean over the examples of their mean token loss.
   */
  private static void place(Sequence s, double totalWeight, EncodedBatch out, int rowStart, int at) {
    int[] seq = s.tokens();
    float tokenWeight = (float) (s.weight() / (totalWeight * s.counted()));
    for (int t = 0; t < seq.length - 1; t++) {
      out.inputs()[at + t] = seq[t];
      out.targets()[at + t] = seq[t + 1];
      if (t + 1 >= s.firstTarget()) {
        out.weights()[at + t] = tokenWeight;
      }
      if (out.packed()) {
        out.positions()[at + t] = t;
        out.attendFrom()[at + t] = at - rowStart;
      }
    }
  }

  // ---- optimizer state ---------------------------------------------------------------------

  /** AdamW moments as safetensors: {@code <PEFT key>.exp_avg} and {@code <PEFT key>.exp_avg_sq}. */
  public synchronized byte[] optimizerStateSafetensors() {
    Map<String, NDArray> state = new LinkedHashMap<>();
    float[] avg = expAvg.toFloatArray();
    float[] avgSq = expAvgSq.toFloatArray();
    Map<String, SafeTensors.FloatSlice> slices = new LinkedHashMap<>();
    int i = 0;
    for (String key : parameters.keySet()) {
      int from = i == 0 ? 0 : Math.toIntExact(splits[i - 1]);
      slices.put(key + EXP_AVG, new SafeTensors.FloatSlice(avg, from, shapes[i]));
      slices.put(key + EXP_AVG_SQ, new SafeTensors.FloatSlice(avgSq, from, shapes[i]));
      i++;
    }
    return SafeTensors.slicesToBytes(slices);
  }

  /**
   * Restores the moments of {@link #optimizerStateSafetensors()} and the step count they belong
   * to; with the adapter restored from the same checkpoint, training continues exactly.
   */
  public synchronized void restoreOptimizerState(byte[] safetensors, long step) {
    if (step < 0) {
      throw new IllegalArgumentException("step must not be negative, got " + step);
    }
    try (NDManager scratch = manager.newSubManager()) {
      Map<String, NDArray> state = SafeTensors.fromBytes(safetensors, scratch);
      int values = Math.toIntExact(expAvg.getShape().size());
      float[] avg = new float[values];
      float[] avgSq = new float[values];
      int i = 0;
      for (String key : parameters.keySet()) {
        int from = i == 0 ? 0 : Math.toIntExact(splits[i - 1]);
        float[] a = moment(state, key + EXP_AVG, shapes[i]);
        System.arraycopy(a, 0, avg, from, a.length);
        float[] b = moment(state, key + EXP_AVG_SQ, shapes[i]);
        System.arraycopy(b, 0, avgSq, from, b.length);
        i++;
      }
      if (!state.isEmpty()) {
        throw new ModelLoadException("optimizer state has unexpected tensors " + state.keySet());
      }
      expAvg.set(avg);
      expAvgSq.set(avgSq);
    }
    this.step = step;
  }

  private static float[] moment(Map<String, NDArray> state, String key, Shape expected) {
    NDArray array = state.remove(key);
    if (array == null) {
      throw new ModelLoadException("optimizer state is missing tensor '" + key + "'");
    }
    if (!array.getShape().equals(expected)) {
      throw new ModelLoadException(
          "optimizer tensor '" + key + "' has shape " + array.getShape() + " but " + expected
              + " is expected");
    }
    return array.toFloatArray();
  }

  /** Arrays held by the optimizer state: constant across steps unless a step leaks. */
  int liveArrays() {
    return manager.getManagedArrays().size();
  }

  /** Frees the optimizer state; the adapter stays open (its owner closes it). */
  @Override
  public synchronized void close() {
    for (NDArray p : parameters.values()) {
      if (!p.isReleased()) {
        p.setRequiresGradient(false);
      }
    }
    manager.close();
  }
}
