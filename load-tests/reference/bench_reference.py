#!/usr/bin/python3
"""Timing baseline for lorastream's model benchmark: the same Llama, LoRA, batch and steps in plain
PyTorch (float32, eager; no lorastream code).

Reads config.json and model.safetensors of a Hugging Face style Llama directory (the reader of
llama_reference.py), builds PEFT-style LoRA (W x + s B A x, s = alpha / r) on the target
projections and times, after warm-up:

  train    one step: forward, masked causal-LM loss (LoraTrainer's: weighted sum of the targets'
           log-probabilities), backward, gradient clipping to norm 1, torch.optim.AdamW
           (lr 5e-3, betas 0.9/0.999, eps 1e-8, no weight decay) on a (batch, seq) batch
  prefill  one prompt of --prompt tokens into an empty KV cache, greedy pick of the next token
  decode   per batch size b: b prompts prefilled (not timed), then --decode-tokens greedy steps,
           each picking one token per row and feeding it with a KV cache (no recomputation),
           one adapter for the whole batch

Prints one JSON object with the times in milliseconds of each timed iteration. Threads: sets
torch.set_num_threads(--threads); the caller also sets OMP_NUM_THREADS/OPENBLAS_NUM_THREADS.

  /usr/bin/python3 load-tests/reference/bench_reference.py --model models/lorastream-tiny --threads 1

Debian's python3-torch calls whatever libblas.so.3 the system selects; with the reference BLAS
(package libblas3 alone) a matmul runs ~6 GFLOP/s and the baseline means nothing. The JSON carries
matmul_1024_gflops so that shows. To use OpenBLAS without installing it system-wide:

  apt-get download libopenblas0-pthread && dpkg -x libopenblas0-pthread_*.deb /tmp/openblas
  LD_LIBRARY_PATH=/tmp/openblas/usr/lib/x86_64-linux-gnu/openblas-pthread /usr/bin/python3 ...

(an OPENBLAS_CORETYPE=Haswell in the environment also slows OpenBLAS on AVX-512 machines).
"""

import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_reference import read_safetensors  # noqa: E402

BLOCK = {"q_proj": "self_attn", "k_proj": "self_attn", "v_proj": "self_attn", "o_proj": "self_attn",
         "gate_proj": "mlp", "up_proj": "mlp", "down_proj": "mlp"}


class Llama32:
    def __init__(self, model_dir, rank, alpha, targets, seed):
        with open(os.path.join(model_dir, "config.json")) as f:
            c = json.load(f)
        assert c.get("rope_scaling") is None
        self.cfg = c
        self.w = {k: v.to(torch.float32).contiguous()
                  for k, v in read_safetensors(os.path.join(model_dir, "model.safetensors")).items()}
        if "lm_head.weight" not in self.w:
            self.w["lm_head.weight"] = self.w["model.embed_tokens.weight"]
        self.layers = c["num_hidden_layers"]
        self.heads = c["num_attention_heads"]
        self.kv_heads = c["num_key_value_heads"]
        self.head_dim = c["hidden_size"] // self.heads
        self.eps = c["rms_norm_eps"]
        self.inv_freq = 1.0 / (c["rope_theta"] ** (
            torch.arange(0, self.head_dim, 2, dtype=torch.float32) / self.head_dim))
        self.scale = alpha / rank
        g = torch.Generator().manual_seed(seed)
        self.lora = {}
        for l in range(self.layers):
            for m in targets:
                weight = self.weight(l, m)
                out_f, in_f = weight.shape
                bound = 1.0 / math.sqrt(in_f)
                a = (torch.rand(rank, in_f, generator=g) * 2 - 1) * bound
                b = torch.randn(out_f, rank, generator=g) * 0.01
                self.lora[(l, m)] = (a.requires_grad_(True), b.requires_grad_(True))

    def weight(self, l, m):
        return self.w[f"model.layers.{l}.{BLOCK[m]}.{m}.weight"]

    def parameters(self):
        return [t for ab in self.lora.values() for t in ab]

    def linear(self, x, l, m):
        y = F.linear(x, self.weight(l, m))
        ab = self.lora.get((l, m))
        if ab is None:
            return y
        return y + self.scale * F.linear(F.linear(x, ab[0]), ab[1])

    def rms_norm(self, x, weight):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * weight

    @staticmethod
    def rotate_half(x):
        half = x.shape[-1] // 2
        return torch.cat((-x[..., half:], x[..., :half]), dim=-1)

    def forward(self, ids, start=0, cache=None):
        """ids (B, T) at positions start..start+T-1 -> logits (B, T, vocab); cache: list of (k, v) or None."""
        bsz, t = ids.shape
        total = start + t
        x = F.embedding(ids, self.w["model.embed_tokens.weight"])
        angles = torch.outer(torch.arange(start, total, dtype=torch.float32), self.inv_freq)
        angles = torch.cat((angles, angles), dim=-1)
        cos, sin = angles.cos(), angles.sin()
        mask = torch.full((t, total), float("-inf")).triu(diagonal=start + 1)
        group = self.heads // self.kv_heads
        for l in range(self.layers):
            p = f"model.layers.{l}."
            h = self.rms_norm(x, self.w[p + "input_layernorm.weight"])
            q = self.linear(h, l, "q_proj").view(bsz, t, self.heads, self.head_dim).transpose(1, 2)
            k = self.linear(h, l, "k_proj").view(bsz, t, self.kv_heads, self.head_dim).transpose(1, 2)
            v = self.linear(h, l, "v_proj").view(bsz, t, self.kv_heads, self.head_dim).transpose(1, 2)
            q = q * cos + self.rotate_half(q) * sin
            k = k * cos + self.rotate_half(k) * sin
            if cache is not None:
                if len(cache) > l:
                    k = torch.cat((cache[l][0], k), dim=2)
                    v = torch.cat((cache[l][1], v), dim=2)
                    cache[l] = (k, v)
                else:
                    cache.append((k, v))
            k = k.repeat_interleave(group, dim=1)
            v = v.repeat_interleave(group, dim=1)
            scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim) + mask
            attn = torch.softmax(scores, dim=-1) @ v
            attn = attn.transpose(1, 2).reshape(bsz, t, self.heads * self.head_dim)
            x = x + self.linear(attn, l, "o_proj")
            h = self.rms_norm(x, self.w[p + "post_attention_layernorm.weight"])
            gate = self.linear(h, l, "gate_proj")
            up = self.linear(h, l, "up_proj")
            x = x + self.linear(F.silu(gate) * up, l, "down_proj")
        x = self.rms_norm(x, self.w["model.norm.weight"])
        return F.linear(x, self.w["lm_head.weight"])


BUDGET_MS = [float("inf")]
WARMUP_MS = [0.0]


def timed(fn, warmup, iters):
    """ms of each timed call, after `warmup` calls and at least WARMUP_MS of them; stops early,
    once two are in, after BUDGET_MS of timed calls."""
    until = time.perf_counter() + WARMUP_MS[0] / 1000.0
    done = 0
    while done < warmup or time.perf_counter() < until:
        fn()
        done += 1
    out = []
    while len(out) < iters and (len(out) < 2 or sum(out) < BUDGET_MS[0]):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000.0)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--alpha", type=float, default=16.0)
    ap.add_argument("--targets", default="q_proj,v_proj")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--prompt", type=int, default=128)
    ap.add_argument("--decode-tokens", type=int, default=32)
    ap.add_argument("--decode-batches", default="1,8")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--infer-iters", type=int, default=5)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--budget-ms", type=float, default=float("inf"),
                    help="stop a timed loop after this many ms once two iterations are in")
    ap.add_argument("--warmup-ms", type=float, default=0.0,
                    help="each timed loop first runs for at least this many ms (as the JVM side does)")
    args = ap.parse_args()
    BUDGET_MS[0] = args.budget_ms
    WARMUP_MS[0] = args.warmup_ms

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = Llama32(args.model, args.rank, args.alpha, args.targets.split(","), args.seed)
    vocab = model.cfg["vocab_size"]
    g = torch.Generator().manual_seed(args.seed + 1)
    result = {"torch": torch.__version__, "threads": torch.get_num_threads(),
              "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"), "batch": args.batch, "seq": args.seq}

    # ---- the BLAS underneath: a 1024^3 fp32 matmul, best of 5 (reference BLAS runs ~6 GFLOP/s)
    a = torch.randn(1024, 1024, generator=g)
    result["matmul_1024_gflops"] = 2 * 1024 ** 3 / (min(timed(lambda: a @ a, 1, 5)) / 1000.0) / 1e9

    # ---- training step
    inputs = torch.randint(3, vocab, (args.batch, args.seq), generator=g)
    targets = torch.randint(3, vocab, (args.batch, args.seq), generator=g)
    weights = torch.full((args.batch, args.seq), 1.0 / (args.batch * args.seq))
    params = model.parameters()
    opt = torch.optim.AdamW(params, lr=5e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    losses = []

    def train_step():
        logp = torch.log_softmax(model.forward(inputs), dim=-1)
        loss = -(logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1) * weights).sum()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())

    result["train_ms"] = timed(train_step, args.warmup, args.iters)
    result["train_loss_last"] = losses[-1]

    # ---- inference: no autograd
    with torch.no_grad():
        prompt = torch.randint(3, vocab, (1, args.prompt), generator=g)

        def prefill():
            cache = []
            logits = model.forward(prompt, 0, cache)
            return int(logits[0, -1].argmax())

        result["prefill_tokens"] = args.prompt
        result["prefill_ms"] = timed(prefill, 1, args.infer_iters)

        result["decode_tokens_per_row"] = args.decode_tokens
        result["decode_ms"] = {}
        for b in [int(s) for s in args.decode_batches.split(",")]:
            prompts = torch.randint(3, vocab, (b, args.prompt), generator=g)
            runs = []
            warm_until = time.perf_counter() + WARMUP_MS[0] / 1000.0
            warming = True  # the first run, and more until WARMUP_MS have passed
            while len(runs) < args.infer_iters:
                if len(runs) >= 2 and sum(runs) > BUDGET_MS[0]:
                    break
                cache = []
                logits = model.forward(prompts, 0, cache)[:, -1]
                t0 = time.perf_counter()
                for i in range(args.decode_tokens):
                    token = logits.argmax(-1)  # one token per row
                    if i + 1 < args.decode_tokens:  # the last token needs no forward pass
                        logits = model.forward(token.view(b, 1), args.prompt + i, cache)[:, -1]
                elapsed = (time.perf_counter() - t0) * 1000.0
                if warming:
                    warming = time.perf_counter() < warm_until
                else:
                    runs.append(elapsed)
            result["decode_ms"][str(b)] = runs
    print(json.dumps(result))


if __name__ == "__main__":
    main()
