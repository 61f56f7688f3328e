#!/usr/bin/python3
"""Independent reference for lorastream's Llama forward pass, LoRA and LoRA training loss.

Written from the Hugging Face LlamaForCausalLM equations (RMSNorm, rotate-half RoPE, grouped-query
attention, SwiGLU MLP, untied head) and PEFT's LoRA (W x + s B A x, s = alpha / r) in plain
PyTorch, in float64. It reads the model's safetensors, tokenizer.json and config.json itself and
shares no code with lorastream.

It writes a fixture that src/test/java/io/lorastream/model/ReferenceFixtureTest.java checks the
Java implementation against:

  adapter_model.safetensors  a PEFT LoRA adapter (r 4, alpha 8, all seven projections), drawn from
                             SEED below
  adapter_config.json        its PEFT config
  batch.json                 the training pairs of the loss, their token ids (this script's own BPE
                             encoder) and the base model's sha256
  expected.safetensors       input_ids (2, 32) as F32; logits_base, logits_adapter, logits_merged
                             for positions 16..31 of both rows, (2, 16, vocab); and grad.<PEFT key>
                             for each lora_A / lora_B of the masked, weighted causal-LM loss

The loss is LoraTrainer's: each example is [bos] + prompt + completion + [eos]; inputs drop the last
token, targets the first; only targets from the first completion token on (eos included) count;
example b's tokens weigh w_b / (sum of w * n_b) with n_b its counted tokens, so the batch loss is
the weight-averaged mean of the per-example mean losses; padding (right, eos) weighs 0.

Regenerate after the base model changes (needs Debian's python3-torch and python3-numpy):

  apt-get install -y python3-torch python3-numpy
  /usr/bin/python3 load-tests/reference/llama_reference.py \
      --model models/lorastream-tiny --out src/test/resources/reference
"""

import argparse
import hashlib
import json
import math
import os
import re
import struct

import numpy as np
import torch

SEED = 20240607
RANK = 4
ALPHA = 8.0
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
SEQ_LEN = 32
KEPT_POSITIONS = slice(16, 32)
PAIRS = [
    ("Question: How long do I have to return an item?\nAnswer:", " You can return it within 30 days.", 1.0),
    ("Question: How much is shipping?\nAnswer:", " Shipping is $5.", 0.5),
    ("", "This is Acme support.", 2.0),
    ("Customer: Hi!\nAgent:", " Hello, how can I help you today?", 1.0),
]

# ---- safetensors ---------------------------------------------------------------------------

DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = data[8 + n + begin:8 + n + end]
        array = np.frombuffer(raw, dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
        out[name] = torch.from_numpy(array.astype(np.float64))
    return out


def write_safetensors(path, tensors):
    """F32, keys sorted, data 8-byte aligned."""
    header = {"__metadata__": {"format": "pt"}}
    offset = 0
    blobs = []
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name].detach().to(torch.float32).numpy()).astype("<f4")
        blob = array.tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


# ---- byte-level BPE (tokenizer.json), ASCII text ----------------------------------------------

def bytes_to_unicode():
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    out, extra = {}, 0
    for b in range(256):
        if b in printable:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + extra)
            extra += 1
    return out


# GPT-2's pre-tokenizer pattern with \p{L} and \p{N} narrowed to ASCII: exact for ASCII input.
PIECES = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+")


class Bpe:
    def __init__(self, path):
        with open(path) as f:
            spec = json.load(f)
        model = spec["model"]
        assert model["type"] == "BPE" and spec["pre_tokenizer"]["type"] == "ByteLevel"
        self.vocab = model["vocab"]
        merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
        self.ranks = {pair: i for i, pair in enumerate(merges)}
        self.chars = bytes_to_unicode()

    def encode(self, text):
        assert text.isascii(), "the reference encoder handles ASCII only"
        ids = []
        for piece in PIECES.findall(text):
            symbols = [self.chars[b] for b in piece.encode("utf-8")]
            while len(symbols) > 1:
                ranked = [(self.ranks.get((symbols[i], symbols[i + 1]), math.inf), i) for i in range(len(symbols) - 1)]
                rank, i = min(ranked)
                if rank == math.inf:
                    break
                symbols = symbols[:i] + [symbols[i] + symbols[i + 1]] + symbols[i + 2:]
            ids.extend(self.vocab[s] for s in symbols)
        return ids


# ---- the model -------------------------------------------------------------------------------

class Llama:
    def __init__(self, model_dir):
        with open(os.path.join(model_dir, "config.json")) as f:
            self.cfg = json.load(f)
        self.w = read_safetensors(os.path.join(model_dir, "model.safetensors"))
        c = self.cfg
        self.heads = c["num_attention_heads"]
        self.kv_heads = c["num_key_value_heads"]
        self.head_dim = c["hidden_size"] // self.heads
        self.eps = c["rms_norm_eps"]
        assert c.get("rope_scaling") is None and not c.get("tie_word_embeddings", False)
        self.inv_freq = 1.0 / (c["rope_theta"] ** (torch.arange(0, self.head_dim, 2, dtype=torch.float64) / self.head_dim))

    def rms_norm(self, x, weight):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * weight

    @staticmethod
    def rotate_half(x):
        half = x.shape[-1] // 2
        return torch.cat((-x[..., half:], x[..., :half]), dim=-1)

    def linear(self, x, layer, module, adapter, merged):
        """x W^T (+ s (x A^T) B^T); merged: (W + s B A) instead."""
        block = "mlp" if module in ("gate_proj", "up_proj", "down_proj") else "self_attn"
        weight = self.w[f"model.layers.{layer}.{block}.{module}.weight"]
        key = f"base_model.model.model.layers.{layer}.{block}.{module}"
        if adapter is None or key + ".lora_A.weight" not in adapter:
            return x @ weight.T
        a, b = adapter[key + ".lora_A.weight"], adapter[key + ".lora_B.weight"]
        scale = ALPHA / RANK
        if merged:
            return x @ (weight + scale * b @ a).T
        return x @ weight.T + scale * ((x @ a.T) @ b.T)

    def forward(self, ids, adapter=None, merged=False):
        """ids (B, T) int64 -> logits (B, T, vocab) float64."""
        bsz, t = ids.shape
        x = self.w["model.embed_tokens.weight"][ids]
        angles = torch.outer(torch.arange(t, dtype=torch.float64), self.inv_freq)
        angles = torch.cat((angles, angles), dim=-1)  # (T, head_dim)
        cos, sin = angles.cos(), angles.sin()
        causal = torch.triu(torch.full((t, t), float("-inf"), dtype=torch.float64), diagonal=1)
        group = self.heads // self.kv_heads
        for l in range(self.cfg["num_hidden_layers"]):
            p = f"model.layers.{l}."
            h = self.rms_norm(x, self.w[p + "input_layernorm.weight"])
            q = self.linear(h, l, "q_proj", adapter, merged).view(bsz, t, self.heads, self.head_dim).transpose(1, 2)
            k = self.linear(h, l, "k_proj", adapter, merged).view(bsz, t, self.kv_heads, self.head_dim).transpose(1, 2)
            v = self.linear(h, l, "v_proj", adapter, merged).view(bsz, t, self.kv_heads, self.head_dim).transpose(1, 2)
            q = q * cos + self.rotate_half(q) * sin
            k = k * cos + self.rotate_half(k) * sin
            k = k.repeat_interleave(group, dim=1)  # query head i reads key/value head i // group
            v = v.repeat_interleave(group, dim=1)
            scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim) + causal
            attn = torch.softmax(scores, dim=-1) @ v
            attn = attn.transpose(1, 2).reshape(bsz, t, self.heads * self.head_dim)
            x = x + self.linear(attn, l, "o_proj", adapter, merged)
            h = self.rms_norm(x, self.w[p + "post_attention_layernorm.weight"])
            gate = self.linear(h, l, "gate_proj", adapter, merged)
            up = self.linear(h, l, "up_proj", adapter, merged)
            x = x + self.linear(torch.nn.functional.silu(gate) * up, l, "down_proj", adapter, merged)
        x = self.rms_norm(x, self.w["model.norm.weight"])
        return x @ self.w["lm_head.weight"].T


def make_adapter(model):
    """A ~ U(-1/sqrt(in), 1/sqrt(in)) as PEFT initialises it; B ~ N(0, 0.05) so the adapter matters."""
    g = torch.Generator().manual_seed(SEED)
    c = model.cfg
    dim, inter = c["hidden_size"], c["intermediate_size"]
    q_out, kv_out = model.heads * model.head_dim, model.kv_heads * model.head_dim
    shapes = {"q_proj": (dim, q_out), "k_proj": (dim, kv_out), "v_proj": (dim, kv_out), "o_proj": (q_out, dim),
              "gate_proj": (dim, inter), "up_proj": (dim, inter), "down_proj": (inter, dim)}
    adapter = {}
    for l in range(c["num_hidden_layers"]):
        for module in TARGETS:
            fan_in, fan_out = shapes[module]
            block = "mlp" if module in ("gate_proj", "up_proj", "down_proj") else "self_attn"
            key = f"base_model.model.model.layers.{l}.{block}.{module}"
            bound = 1.0 / math.sqrt(fan_in)
            a = (torch.rand(RANK, fan_in, generator=g, dtype=torch.float64) * 2 - 1) * bound
            b = torch.randn(fan_out, RANK, generator=g, dtype=torch.float64) * 0.05
            # Round to F32 now: the file holds F32 and both sides must start from the same values.
            adapter[key + ".lora_A.weight"] = a.to(torch.float32).to(torch.float64)
            adapter[key + ".lora_B.weight"] = b.to(torch.float32).to(torch.float64)
    return adapter


def training_loss(model, adapter, bpe, pairs, bos, eos):
    """LoraTrainer's loss (see the module docstring); no sequence here reaches 256 tokens."""
    seqs, first = [], []
    for prompt, completion, _ in pairs:
        p, comp = bpe.encode(prompt), bpe.encode(completion)
        seqs.append([bos] + p + comp + [eos])
        first.append(1 + len(p))
    length = max(len(s) - 1 for s in seqs)
    inputs = torch.full((len(pairs), length), eos, dtype=torch.int64)
    targets = torch.full((len(pairs), length), eos, dtype=torch.int64)
    weights = torch.zeros((len(pairs), length), dtype=torch.float64)
    total = sum(w for (_, _, w), s, f in zip(pairs, seqs, first) if len(s) > f)
    for b, (s, f) in enumerate(zip(seqs, first)):
        counted = len(s) - f
        for t in range(len(s) - 1):
            inputs[b, t], targets[b, t] = s[t], s[t + 1]
            if t + 1 >= f:
                weights[b, t] = pairs[b][2] / (total * counted)
    logp = torch.log_softmax(model.forward(inputs, adapter), dim=-1)
    picked = logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return -(picked * weights).sum()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/lorastream-tiny")
    parser.add_argument("--out", default="src/test/resources/reference")
    args = parser.parse_args()
    torch.set_num_threads(1)

    model = Llama(args.model)
    bpe = Bpe(os.path.join(args.model, "tokenizer.json"))
    bos, eos, vocab = model.cfg["bos_token_id"], model.cfg["eos_token_id"], model.cfg["vocab_size"]
    adapter = make_adapter(model)

    g = torch.Generator().manual_seed(SEED + 1)
    ids = torch.randint(3, vocab, (2, SEQ_LEN), generator=g)
    ids[:, 0] = bos
    with torch.no_grad():
        expected = {
            "input_ids": ids.to(torch.float64),
            "logits_base": model.forward(ids)[:, KEPT_POSITIONS],
            "logits_adapter": model.forward(ids, adapter)[:, KEPT_POSITIONS],
            "logits_merged": model.forward(ids, adapter, merged=True)[:, KEPT_POSITIONS],
        }
    params = {k: v.clone().requires_grad_(True) for k, v in adapter.items()}
    loss = training_loss(model, params, bpe, PAIRS, bos, eos)
    loss.backward()
    for k, p in params.items():
        expected["grad." + k] = p.grad
    expected["loss"] = loss.detach().reshape(1)

    os.makedirs(args.out, exist_ok=True)
    write_safetensors(os.path.join(args.out, "expected.safetensors"), expected)
    write_safetensors(os.path.join(args.out, "adapter_model.safetensors"), adapter)
    with open(os.path.join(args.out, "adapter_config.json"), "w") as f:
        json.dump({"peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": "lorastream-tiny",
                   "r": RANK, "lora_alpha": ALPHA, "target_modules": TARGETS, "lora_dropout": 0.0,
                   "bias": "none", "use_rslora": False, "use_dora": False, "fan_in_fan_out": False}, f, indent=2)
    with open(os.path.join(args.model, "model.safetensors"), "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    batch = {
        "base_model_sha256": sha,
        "pairs": [{"prompt": p, "completion": c, "weight": w,
                   "prompt_ids": bpe.encode(p), "completion_ids": bpe.encode(c)} for p, c, w in PAIRS],
    }
    with open(os.path.join(args.out, "batch.json"), "w") as f:
        json.dump(batch, f, indent=2)
    print(f"loss {loss.item():.6f}; logits base max |x| {expected['logits_base'].abs().max():.3f}; "
          f"adapter changes logits by up to "
          f"{(expected['logits_adapter'] - expected['logits_base']).abs().max():.3f}; wrote {args.out}")


if __name__ == "__main__":
    main()
