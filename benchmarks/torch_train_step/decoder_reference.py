#!/usr/bin/python3
"""PyTorch (Python) reference for rltf's LibTorch benchmarks on Llama / Qwen2 models.

The same math as rltf::DecoderModel and Hugging Face's modeling_qwen2 / modeling_llama: RMSNorm in
float32, rotary embeddings (rotate_half), grouped-query attention with the keys and values repeated
per query group (repeat_kv), q/k/v biases for Qwen2, SwiGLU MLP, tied or separate lm_head. The KV
cache grows by concatenation every step, as transformers' DynamicCache does. Weights come from the
safetensors files the C++ side writes (read by gpt2_reference.read_safetensors). Run with Debian's
/usr/bin/python3 and python3-torch: the same libtorch 1.13 as the C++ build underneath.

  decoder_reference.py train    --model DIR --inputs FILE --steps N --warmup W --repeats R --lr LR --wd WD --threads T
  decoder_reference.py generate --model DIR --inputs FILE --new-tokens N --warmup W --repeats R --threads T

Each timing is the best of R rounds. Prints one JSON object on stdout.
"""

import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt2_reference  # noqa: E402  (read_safetensors and the train/generate loops)


class Decoder(torch.nn.Module):
    def __init__(self, config, weights):
        super().__init__()
        self.c = config
        self.h = config["num_attention_heads"]
        self.kv = config.get("num_key_value_heads", self.h)
        self.e = config["hidden_size"]
        self.d = config.get("head_dim") or self.e // self.h
        self.layers = config["num_hidden_layers"]
        self.eps = config.get("rms_norm_eps", 1e-6)
        self.params = torch.nn.ParameterDict(
            {k.replace(".", "__"): torch.nn.Parameter(v.float()) for k, v in weights.items()})
        self.tied = "lm_head.weight" not in weights
        self.vocab = weights["model.embed_tokens.weight"].shape[0]
        theta = config.get("rope_theta", 10000.0)
        self.inv_freq = 1.0 / (theta ** (torch.arange(0, self.d, 2, dtype=torch.float64) / self.d))

    def p(self, name):
        return self.params[name.replace(".", "__")]

    def has(self, name):
        return name.replace(".", "__") in self.params

    def linear(self, x, name):
        bias = self.p(name + ".bias") if self.has(name + ".bias") else None
        return F.linear(x, self.p(name + ".weight"), bias)

    def norm(self, x, name):
        var = x.pow(2).mean(-1, keepdim=True)
        return self.p(name) * (x * torch.rsqrt(var + self.eps))

    @staticmethod
    def rotate_half(x):
        a, b = x.chunk(2, dim=-1)
        return torch.cat((-b, a), dim=-1)

    def forward(self, ids, past=None):
        b, t = ids.shape
        start = 0 if past is None else past[0][0].shape[2]
        pos = torch.arange(start, start + t, dtype=torch.float64)
        freqs = pos.unsqueeze(-1) * self.inv_freq.unsqueeze(0)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos().float()[None, None], emb.sin().float()[None, None]
        s = start + t
        mask = torch.arange(s).unsqueeze(0) <= (torch.arange(t) + start).unsqueeze(1)
        x = F.embedding(ids, self.p("model.embed_tokens.weight"))
        groups = self.h // self.kv
        presents = []
        for l in range(self.layers):
            pre = f"model.layers.{l}."
            n = self.norm(x, pre + "input_layernorm.weight")
            q = self.linear(n, pre + "self_attn.q_proj").view(b, t, self.h, self.d).transpose(1, 2)
            k = self.linear(n, pre + "self_attn.k_proj").view(b, t, self.kv, self.d).transpose(1, 2)
            v = self.linear(n, pre + "self_attn.v_proj").view(b, t, self.kv, self.d).transpose(1, 2)
            q = q * cos + self.rotate_half(q) * sin
            k = k * cos + self.rotate_half(k) * sin
            if past is not None:
                k = torch.cat([past[l][0], k], dim=2)
                v = torch.cat([past[l][1], v], dim=2)
            presents.append((k, v))
            kr = k.repeat_interleave(groups, dim=1)
            vr = v.repeat_interleave(groups, dim=1)
            scores = torch.matmul(q, kr.transpose(-1, -2)) / math.sqrt(self.d)
            scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
            probs = torch.softmax(scores, dim=-1)
            att = torch.matmul(probs, vr).transpose(1, 2).reshape(b, t, self.h * self.d)
            x = x + self.linear(att, pre + "self_attn.o_proj")
            n = self.norm(x, pre + "post_attention_layernorm.weight")
            gated = F.silu(self.linear(n, pre + "mlp.gate_proj")) * self.linear(n, pre + "mlp.up_proj")
            x = x + self.linear(gated, pre + "mlp.down_proj")
        x = self.norm(x, "model.norm.weight")
        head = self.p("model.embed_tokens.weight") if self.tied else self.p("lm_head.weight")
        return torch.matmul(x, head.t()), presents


def load(model_dir):
    with open(f"{model_dir}/config.json") as f:
        config = json.load(f)
    return Decoder(config, gpt2_reference.read_safetensors(f"{model_dir}/model.safetensors"))


def main():
    gpt2_reference.main(load)


if __name__ == "__main__":
    main()
