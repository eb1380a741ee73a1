#!/usr/bin/python3
"""PyTorch (Python) reference for rltf's LibTorch benchmarks.

Same architecture and math as rltf::Gpt2Model (Hugging Face GPT-2: Conv1D weights [in, out],
gelu_new, causal attention scaled by 1/sqrt(head_dim), logits = ln_f(x) @ wte^T), loaded from the
safetensors files the C++ side writes, with a small pure-Python safetensors reader (there is no
`safetensors` package here). Run with Debian's /usr/bin/python3 and python3-torch: the same
libtorch 1.13 as the C++ build underneath.

  gpt2_reference.py train    --model DIR --inputs FILE --steps N --warmup W --repeats R --lr LR --wd WD --threads T
  gpt2_reference.py generate --model DIR --inputs FILE --new-tokens N --warmup W --repeats R --threads T

Each timing is the best of R rounds (the machine may be shared). Prints one JSON object on stdout.
"""

import argparse
import json
import math
import resource
import struct
import sys
import time

import torch
import torch.nn.functional as F

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64,
          "I64": torch.int64, "I32": torch.int32, "U8": torch.uint8, "BOOL": torch.bool}


def read_safetensors(path):
    """name -> tensor, from the 8-byte length, the JSON header and the raw little-endian data."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        dtype = DTYPES[entry["dtype"]]
        raw = bytearray(data[base + begin:base + end])
        t = torch.frombuffer(raw, dtype=dtype) if raw else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(entry["shape"]).clone()
    return out


class Gpt2(torch.nn.Module):
    def __init__(self, config, weights):
        super().__init__()
        self.n_head = config["n_head"]
        self.n_embd = config["n_embd"]
        self.n_layer = config["n_layer"]
        self.eps = config.get("layer_norm_epsilon", 1e-5)
        prefix = "transformer."
        w = {k[len(prefix):] if k.startswith(prefix) else k: v for k, v in weights.items()}
        self.params = torch.nn.ParameterDict({k.replace(".", "__"): torch.nn.Parameter(v.float()) for k, v in w.items()})
        self.vocab = w["wte.weight"].shape[0]
        n_pos = config["n_positions"]
        self.register_buffer("causal", torch.tril(torch.ones(n_pos, n_pos, dtype=torch.bool)), persistent=False)

    def p(self, name):
        return self.params[name.replace(".", "__")]

    def attention(self, l, x, past):
        b, t, e = x.shape
        h, d = self.n_head, e // self.n_head
        qkv = torch.addmm(self.p(f"h.{l}.attn.c_attn.bias"), x.reshape(-1, e), self.p(f"h.{l}.attn.c_attn.weight"))
        q, k, v = qkv.view(b, t, 3 * e).split(e, dim=2)
        q = q.view(b, t, h, d).permute(0, 2, 1, 3)
        k = k.view(b, t, h, d).permute(0, 2, 1, 3)
        v = v.view(b, t, h, d).permute(0, 2, 1, 3)
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        s = k.shape[2]
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d)
        mask = self.causal[s - t:s, :s]
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
        probs = torch.softmax(scores, dim=-1)
        out = torch.matmul(probs, v).permute(0, 2, 1, 3).reshape(b, t, e)
        out = torch.addmm(self.p(f"h.{l}.attn.c_proj.bias"), out.reshape(-1, e), self.p(f"h.{l}.attn.c_proj.weight"))
        return out.view(b, t, e), (k, v)

    def forward(self, ids, past=None):
        b, t = ids.shape
        start = 0 if past is None else past[0][0].shape[2]
        pos = torch.arange(start, start + t, dtype=torch.long).unsqueeze(0)
        x = F.embedding(ids, self.p("wte.weight")) + F.embedding(pos, self.p("wpe.weight"))
        e = self.n_embd
        presents = []
        for l in range(self.n_layer):
            a = F.layer_norm(x, (e,), self.p(f"h.{l}.ln_1.weight"), self.p(f"h.{l}.ln_1.bias"), self.eps)
            out, present = self.attention(l, a, None if past is None else past[l])
            presents.append(present)
            x = x + out
            m = F.layer_norm(x, (e,), self.p(f"h.{l}.ln_2.weight"), self.p(f"h.{l}.ln_2.bias"), self.eps)
            m = torch.addmm(self.p(f"h.{l}.mlp.c_fc.bias"), m.reshape(-1, e), self.p(f"h.{l}.mlp.c_fc.weight"))
            m = F.gelu(m, approximate="tanh")
            m = torch.addmm(self.p(f"h.{l}.mlp.c_proj.bias"), m, self.p(f"h.{l}.mlp.c_proj.weight"))
            x = x + m.view(b, t, e)
        x = F.layer_norm(x, (e,), self.p("ln_f.weight"), self.p("ln_f.bias"), self.eps)
        return torch.matmul(x, self.p("wte.weight").t()), presents


def load(model_dir):
    with open(f"{model_dir}/config.json") as f:
        config = json.load(f)
    return Gpt2(config, read_safetensors(f"{model_dir}/model.safetensors"))


def train(args, load=load):
    model = load(args.model)
    inputs = read_safetensors(args.inputs)["ids"]
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=args.wd,
                            foreach=False)
    vocab = model.vocab
    losses = []

    def step():
        opt.zero_grad()
        logits, _ = model(inputs[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, vocab), inputs[:, 1:].reshape(-1))
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(args.warmup):
        losses.append(step())
    rounds = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        for _ in range(args.steps):
            losses.append(step())
        rounds.append(1000 * (time.perf_counter() - start) / max(args.steps, 1))
    return {"per_step_ms": min(rounds), "rounds_ms": rounds, "losses": losses}


@torch.no_grad()
def generate(args, load=load):
    model = load(args.model).eval()
    prompts = read_safetensors(args.inputs)["ids"]

    def run():
        # each chosen token's log-probability is recorded, as rltf::generate does (RL needs it)
        logits, past = model(prompts)
        out, logps = [], []
        for step in range(args.new_tokens):
            logp = torch.log_softmax(logits[:, -1, :].float(), dim=-1)
            nxt = logp.argmax(-1, keepdim=True)
            out.append(nxt)
            logps.append(logp.gather(1, nxt))
            if step + 1 == args.new_tokens:
                break
            logits, past = model(nxt, past)
        return torch.cat(out, dim=1)

    for _ in range(args.warmup):
        run()
    rounds = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        tokens = run()
        rounds.append(time.perf_counter() - start)
    return {"seconds": min(rounds), "rounds_s": rounds, "tokens": tokens.tolist()}


def main(load=load):
    """Parses the arguments and runs the mode over the model `load(dir)` returns."""
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["train", "generate"])
    ap.add_argument("--model", required=True)
    ap.add_argument("--inputs", required=True)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--wd", type=float, default=0.0)
    ap.add_argument("--new-tokens", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    result = train(args, load) if args.mode == "train" else generate(args, load)
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    result["torch"] = torch.__version__
    result["threads"] = torch.get_num_threads()
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
