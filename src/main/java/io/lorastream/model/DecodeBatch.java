package io.lorastream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.pytorch.jni.JniUtils;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Sequences of any tenants decoded together: one forward pass per step for all running rows,
 * each row with its own adapter (or the base model), sampling settings, prompt length and
 * budget. Rows may be added and removed between steps, so a continuous batcher admits waiting
 * requests whenever it likes:
 *
 * <pre>{@code
 * try (DecodeBatch batch = new DecodeBatch(lm)) {
 *   while (running) {
 *     while (batch.size() < maxRows && queue has requests) ids.put(batch.add(request), caller);
 *     for (DecodeBatch.Update u : batch.step()) deliver(u); // u.completion() != null: finished
 *   }
 * }
 * }</pre>
 *
 * <p>Layout: {@link #addAll} runs the prompts admitted together in batched forward passes (each
 * row left-padded, masked and positioned so that it computes what a one-row pass of its prompt
 * computes, as {@link Generator} does), keeps the logits of each prompt's last position and
 * appends the prompts' keys and values to one batched cache (B, n_kv_heads, S, head_dim) per
 * layer. Rows are aligned
 * to the right: a row shorter than the longest has zero slots on its left, which the attention
 * mask hides from it ({@code firstSlot}), and its rotary positions are its own. Every step adds
 * one slot to every running row, so the alignment holds; finished rows are dropped from the
 * cache and leading slots that no remaining row needs are trimmed, so S never exceeds the longest
 * running row.
 *
 * <p>Row i of the cache uses slot i of the rows' LoRA factors ({@link LoraSlots}): a row's
 * factors are copied into its slot when it joins (their values are read then: serve snapshots,
 * not adapters being trained) and stay there; other rows joining or leaving copy nothing. When
 * rows leave, the last rows move into the gaps, so the running rows always fill the first slots
 * and only a moved row's slot is written again. When every row has the same adapter, its own
 * factors serve all of them and no slot is written; with the native kernel ({@link
 * NativeRowLora}) only from {@link #SHARED_FACTORS_MIN_ROWS} rows on.
 *
 * <p>Prompts are not chunked: a long prompt's forward pass runs inside {@link #addAll}, between
 * two steps of the others. Not thread-safe: one thread owns a batch.
 */
public final class DecodeBatch implements AutoCloseable {

  /**
   * What one step did to one row.
   *
   * @param id the row, as {@link #add} returned it
   * @param tokens the token generated in this step (none when the row ended on eos or its budget)
   * @param completion the finished row's result, or null while it runs
   */
  public record Update(long id, int[] tokens, Completion completion) {
    public boolean finished() {
      return completion != null;
    }
  }

  private static final class Row {
    final long id;
    final LoraAdapter adapter;
    final SequenceState sequence;
    // After the whole context: the logits (vocab) the next token is drawn from, for a row that
    // needs them (sampling, logprobs); else null and the index of their largest value.
    float[] logits;
    int argmax;
    int firstSlot; // first cache slot of this row; earlier ones are padding

    Row(long id, LoraAdapter adapter, SequenceState sequence) {
      this.id = id;
      this.adapter = adapter;
      this.sequence = sequence;
    }
  }

  /**
   * Rows of one adapter from which its own factors (two plain products per projection) beat the
   * native kernel over their slots: a decode step of one all-linear row took 1.03–1.12 ms of CPU
   * with the kernel against 1.30–1.35 ms with the products; at 8 rows the two were equal.
   */
  static final int SHARED_FACTORS_MIN_ROWS = 8;

  private final CausalLm lm;
  private final NDManager manager; // owns the stacked LoRA factors and step inputs
  private final CausalLm.KvCache cache;
  private final List<Row> rows = new ArrayList<>(); // in cache row order = slot order
  private final List<Update> finishedEarly = new ArrayList<>(); // reported by the next step
  private final LoraSlots slots; // row i's factors in slot i
  private NDManager sharedManager; // owns sharedLora
  // The factors of sharedAdapter alone, for rows that all use it; kept while the batch is empty,
  // so one client's requests in turn do not prepare them each time.
  private RowLora sharedLora;
  private LoraAdapter sharedAdapter;
  private RowLora lora; // what the next step uses; null when the rows changed
  private long nextId;

  public DecodeBatch(CausalLm lm) {
    this(lm, true);
  }

  /**
   * @param nativeKernel let {@link NativeRowLora} compute rows' LoRA terms where it can; false
   *     keeps libtorch's batched products (to compare the two)
   */
  DecodeBatch(CausalLm lm, boolean nativeKernel) {
    this.lm = lm;
    this.manager = NDManager.newBaseManager(lm.base().manager().getDevice());
    this.cache = new CausalLm.KvCache(lm.base());
    this.slots = new LoraSlots(lm.base(), manager, nativeKernel);
  }

  /** Running rows (added and not yet reported finished). */
  public int size() {
    return rows.size() + finishedEarly.size();
  }

  public boolean isEmpty() {
    return size() == 0;
  }

  /**
   * Admits a request: runs its prompt and joins it to the batch; its first token comes with the
   * next {@link #step()}.
   *
   * @return the row's id in updates
   */
  public long add(GenerationRequest request) {
    return addAll(List.of(request)).get(0);
  }

  /**
   * Admits several requests at once: their prompts run together in as few forward passes as
   * padding allows ({@link #prefillGroups}), each row with its own adapter, then they join the
   * batch. Either every request is admitted or, when one is invalid (IllegalArgumentException),
   * none is.
   *
   * @return the rows' ids in updates, in the order of {@code requests}
   */
  public List<Long> addAll(List<GenerationRequest> requests) {
    List<SequenceState> sequences = new ArrayList<>(requests.size());
    for (GenerationRequest request : requests) {
      sequences.add(new SequenceState(request.promptIds(), request.params(), lm.base())); // validates
    }
    List<Long> ids = new ArrayList<>(requests.size());
    List<Row> toPrefill = new ArrayList<>();
    List<int[]> prompts = new ArrayList<>();
    for (int i = 0; i < requests.size(); i++) {
      Row row = new Row(nextId++, requests.get(i).adapterOrNull(), sequences.get(i));
      ids.add(row.id);
      if (row.sequence.done()) { // nothing to generate (maxTokens 0)
        finishedEarly.add(new Update(row.id, new int[0], row.sequence.completion()));
      } else {
        toPrefill.add(row);
        prompts.add(requests.get(i).promptIds());
      }
    }
    List<Row> before = List.copyOf(rows);
    int earlyBefore = finishedEarly.size() - (requests.size() - toPrefill.size());
    try {
      for (List<Integer> group : prefillGroups(prompts)) {
        List<Row> groupRows = group.stream().map(toPrefill::get).toList();
        List<int[]> groupPrompts = group.stream().map(prompts::get).toList();
        int firstSlot = rows.size();
        lora = null; // writing slots may replace the arrays it views
        withoutGrad(() -> {
          prefill(groupRows, groupPrompts, firstSlot);
          return null;
        });
        rows.addAll(groupRows);
        lora = null;
      }
    } catch (RuntimeException e) { // admit none: forget the groups that did join
      finishedEarly.subList(earlyBefore, finishedEarly.size()).clear();
      if (rows.size() != before.size()) {
        keepOnly(before);
      }
      throw e;
    }
    return ids;
  }

  /**
   * Splits prompts (by index) into groups that run in one forward pass each. Prompts are sorted by
   * length and a group grows while its padded size (rows × longest prompt) stays within
   * {@code 5/4} of its real tokens, so padding costs at most a quarter more work than one-row
   * passes would; prompts of equal length always share a pass.
   */
  static List<List<Integer>> prefillGroups(List<int[]> prompts) {
    List<Integer> order = new ArrayList<>();
    for (int i = 0; i < prompts.size(); i++) {
      order.add(i);
    }
    order.sort((x, y) -> Integer.compare(prompts.get(x).length, prompts.get(y).length));
    List<List<Integer>> groups = new ArrayList<>();
    List<Integer> group = new ArrayList<>();
    long realTokens = 0;
    for (int index : order) {
      int length = prompts.get(index).length; // the longest so far: sorted ascending
      long paddedIfJoined = (long) (group.size() + 1) * length;
      if (!group.isEmpty() && paddedIfJoined * 4 > (realTokens + length) * 5) {
        groups.add(group);
        group = new ArrayList<>();
        realTokens = 0;
      }
      group.add(index);
      realTokens += length;
    }
    if (!group.isEmpty()) {
      groups.add(group);
    }
    return groups;
  }

  /**
   * Runs the prompts of {@code group} in one forward pass, left-padded to the longest: row b's
   * real tokens start at slot {@code pad_b} with position 0 (so its padding has negative
   * positions) and it attends from slot {@code pad_b} on, so padding changes nothing it computes.
   * Keeps each row's last logits and appends the rows' keys and values to the batch cache. The
   * rows' factors go into slots {@code firstSlot ..}, where they stay while the rows run.
   */
  private void prefill(List<Row> group, List<int[]> prompts, int firstSlot) {
    int count = group.size();
    int longest = prompts.stream().mapToInt(p -> p.length).max().orElseThrow();
    long[] tokens = new long[count * longest]; // (count, longest), padding = eos
    Arrays.fill(tokens, lm.base().tokenizer().eosId());
    int[] positions = new int[count];
    int[] firstSlots = new int[count];
    List<LoraAdapter> adapters = new ArrayList<>(count);
    for (int b = 0; b < count; b++) {
      int[] prompt = prompts.get(b);
      int pad = longest - prompt.length;
      for (int t = 0; t < prompt.length; t++) {
        tokens[b * longest + pad + t] = prompt[t];
      }
      positions[b] = -pad;
      firstSlots[b] = pad;
      adapters.add(group.get(b).adapter);
    }
    try (NDScope scope = new NDScope();
        CausalLm.KvCache fresh = new CausalLm.KvCache(lm.base())) {
      RowLora factors = factorsOf(adapters, firstSlot);
      NDArray input = manager.create(tokens).reshape(count, longest);
      NDArray logits = lm.forwardRows(input, factors, positions, firstSlots, fresh, true); // (count, 1, vocab)
      deliver(logits, group);
      int[] padding = cache.appendRows(fresh);
      for (Row r : rows) {
        r.firstSlot += padding[0];
      }
      for (int b = 0; b < count; b++) {
        group.get(b).firstSlot = padding[1] + firstSlots[b];
      }
    }
  }

  /**
   * One token for every running row: draws each row's token from its last logits, ends rows that
   * hit eos, a stop sequence or their budget, and runs one forward pass of the others.
   *
   * @return one update per row that was running: rows that finished before any step first, then
   *     the others in the batch's row order
   */
  public List<Update> step() {
    List<Update> updates = new ArrayList<>(finishedEarly);
    finishedEarly.clear();
    List<Row> continuing = new ArrayList<>();
    for (Row row : rows) {
      int before = row.sequence.generatedCount();
      boolean goesOn = row.logits != null ? row.sequence.accept(row.logits) : row.sequence.acceptArgmax(row.argmax);
      int[] tokens = row.sequence.generatedCount() > before ? new int[] {row.sequence.lastToken()} : new int[0];
      updates.add(new Update(row.id, tokens, goesOn ? null : row.sequence.completion()));
      if (goesOn) {
        continuing.add(row);
      }
    }
    if (continuing.size() != rows.size()) {
      keepOnly(continuing);
    }
    if (!rows.isEmpty()) {
      forwardLastTokens();
    }
    return updates;
  }

  /** Drops a row without finishing it (e.g. its client went away). */
  public boolean remove(long id) {
    if (finishedEarly.removeIf(u -> u.id() == id)) {
      return true;
    }
    List<Row> kept = new ArrayList<>(rows);
    if (!kept.removeIf(r -> r.id == id)) {
      return false;
    }
    keepOnly(kept);
    return true;
  }

  /**
   * Keeps only {@code kept} (a subset of the rows): each kept row past the first
   * {@code kept.size()} moves into the place of a row that left, so that the next step rewrites
   * only the LoRA slots of moved rows.
   */
  private void keepOnly(List<Row> kept) {
    int count = kept.size();
    Set<Row> keep = Collections.newSetFromMap(new IdentityHashMap<>());
    keep.addAll(kept);
    List<Integer> movers = new ArrayList<>(); // kept rows beyond the new end
    for (int p = count; p < rows.size(); p++) {
      if (keep.contains(rows.get(p))) {
        movers.add(p);
      }
    }
    List<Row> order = new ArrayList<>(count);
    long[] indices = new long[count]; // the new row p is the old row indices[p]
    int moved = 0;
    int minFirst = Integer.MAX_VALUE;
    for (int p = 0; p < count; p++) {
      int old = p;
      if (!keep.contains(rows.get(p))) {
        old = movers.get(moved++);
      }
      order.add(rows.get(old));
      indices[p] = old;
      minFirst = Math.min(minFirst, rows.get(old).firstSlot);
    }
    int drop = count == 0 ? 0 : minFirst; // slots no remaining row attends to
    withoutGrad(() -> {
      try (NDScope scope = new NDScope()) {
        cache.keepRows(indices, drop);
      }
      return null;
    });
    for (Row row : order) {
      row.firstSlot -= drop;
    }
    rows.clear();
    rows.addAll(order);
    lora = null;
  }

  /** Feeds each row's newest token, at the row's own position; stores the next logits. */
  private void forwardLastTokens() {
    int batch = rows.size();
    long[] tokens = new long[batch];
    int[] positions = new int[batch];
    int[] firstSlots = new int[batch];
    for (int b = 0; b < batch; b++) {
      Row row = rows.get(b);
      tokens[b] = row.sequence.lastToken();
      positions[b] = row.sequence.length() - 1;
      firstSlots[b] = row.firstSlot;
    }
    withoutGrad(() -> {
      RowLora factors = currentLora();
      try (NDScope scope = new NDScope()) {
        NDArray input = manager.create(tokens).reshape(batch, 1);
        NDArray logits = lm.forwardRows(input, factors, positions, firstSlots, cache); // (B, 1, vocab)
        deliver(logits, rows);
      }
      return null;
    });
  }

  /**
   * Hands each of {@code target}'s rows what choosing its next token needs from {@code logits}
   * (one row each, (R, 1, vocab)): the argmax, taken on the model's device, for a greedy row
   * without logprobs; the logits themselves for the others. Only those rows' logits are copied to
   * the host, so a greedy batch on a GPU copies R token ids per step, not R × vocab floats.
   */
  private void deliver(NDArray logits, List<Row> target) {
    int count = target.size();
    NDArray flat = logits.reshape(count, -1); // (R, vocab)
    List<Integer> sampling = new ArrayList<>();
    for (int b = 0; b < count; b++) {
      if (target.get(b).sequence.needsLogits()) {
        sampling.add(b);
      }
    }
    if (sampling.size() < count) {
      long[] argmax = flat.argMax(-1).toLongArray(); // (R)
      for (int b = 0; b < count; b++) {
        target.get(b).logits = null;
        target.get(b).argmax = Math.toIntExact(argmax[b]);
      }
    }
    if (sampling.isEmpty()) {
      return;
    }
    NDArray needed = flat;
    if (sampling.size() < count) {
      long[] index = sampling.stream().mapToLong(Integer::longValue).toArray();
      needed = flat.get(new NDIndex("{}", manager.create(index))); // (S, vocab)
    }
    float[] values = needed.toFloatArray();
    int vocab = values.length / sampling.size();
    for (int i = 0; i < sampling.size(); i++) {
      target.get(sampling.get(i)).logits = Arrays.copyOfRange(values, i * vocab, (i + 1) * vocab);
    }
  }

  private RowLora currentLora() {
    if (lora == null) {
      List<LoraAdapter> adapters = new ArrayList<>(rows.size());
      rows.forEach(r -> adapters.add(r.adapter));
      lora = factorsOf(adapters, 0);
    }
    return lora;
  }

  /**
   * The factors of rows that sit in slots {@code firstSlot ..}: the one adapter's own factors
   * when these rows and the rows before them ({@code firstSlot} of them) all share it (two plain
   * products per projection, as a row alone computes), else the slots. Rows joining a batch of
   * other adapters take their slots at once, although they may share one adapter among them:
   * they need the slots from the next step on anyway, and preparing a lone adapter's own factors
   * (about 80 operations) for every row that joins alone cost more than the prefill's products.
   * With the native kernel, fewer than {@link #SHARED_FACTORS_MIN_ROWS} rows of one adapter use
   * slots too: one kernel call per projection cost less than the two products.
   */
  private RowLora factorsOf(List<LoraAdapter> adapters, int firstSlot) {
    LoraAdapter first = adapters.get(0);
    for (LoraAdapter adapter : adapters) {
      if (adapter != first) {
        return slots.rows(adapters, firstSlot);
      }
    }
    for (int i = 0; i < firstSlot; i++) {
      if (rows.get(i).adapter != first) {
        return slots.rows(adapters, firstSlot);
      }
    }
    if (firstSlot + adapters.size() < SHARED_FACTORS_MIN_ROWS && slots.kernelComputes()) {
      return slots.rows(adapters, firstSlot);
    }
    if (sharedManager == null || sharedAdapter != first) {
      releaseShared();
      sharedManager = manager.newSubManager();
      try (NDScope scope = new NDScope()) {
        sharedLora = RowLora.gather(lm.base(), Collections.singletonList(first), sharedManager)
            .keepOn(sharedManager);
      }
      sharedAdapter = first;
    }
    return sharedLora.withRows(adapters.size());
  }

  private void releaseShared() {
    if (sharedManager != null) {
      sharedManager.close();
      sharedManager = null;
      sharedLora = null;
      sharedAdapter = null;
    }
  }

  private static <T> T withoutGrad(Supplier<T> body) {
    boolean gradMode = JniUtils.isGradMode();
    JniUtils.setGradMode(false);
    try {
      return body.get();
    } finally {
      JniUtils.setGradMode(gradMode);
    }
  }

  @Override
  public void close() {
    releaseShared();
    slots.close();
    cache.close();
    manager.close();
  }
}
