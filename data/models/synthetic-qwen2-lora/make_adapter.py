#!/usr/bin/python3
"""Writes this folder's LoRA adapter for ../synthetic-qwen2 (PEFT's layout: adapter_config.json and
adapter_model.safetensors with base_model.model.<module>.lora_A/B.weight) and its expected greedy
continuation, computed independently of rltf: the adapter merged into the weights in float64
(W + alpha/r * B @ A), then a float64 Qwen2 forward pass (benchmarks/torch_train_step/
decoder_reference.py's math) decoding greedily without a cache.

  /usr/bin/python3 make_adapter.py   # Debian's python3-torch
"""

import json
import os
import struct
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "benchmarks", "torch_train_step"))
import decoder_reference  # noqa: E402
import gpt2_reference  # noqa: E402

R, ALPHA = 4, 8.0
TARGETS = ["q_proj", "v_proj", "down_proj"]
PROMPT = [9707, 1879]
NEW_TOKENS = 12


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous().float()
        raw = t.numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    base_dir = os.path.join(ROOT, "data", "models", "synthetic-qwen2")
    with open(os.path.join(base_dir, "config.json")) as f:
        config = json.load(f)
    weights = gpt2_reference.read_safetensors(os.path.join(base_dir, "model.safetensors"))
    gen = torch.Generator().manual_seed(20261202)
    adapter = {}
    merged = {k: v.double() for k, v in weights.items()}
    for layer in range(config["num_hidden_layers"]):
        for leaf in TARGETS:
            group = "mlp" if leaf == "down_proj" else "self_attn"
            module = f"model.layers.{layer}.{group}.{leaf}"
            w = weights[module + ".weight"]
            out_f, in_f = w.shape
            a = torch.randn(R, in_f, generator=gen) * 0.5
            b = torch.randn(out_f, R, generator=gen) * 0.5
            adapter[f"base_model.model.{module}.lora_A.weight"] = a
            adapter[f"base_model.model.{module}.lora_B.weight"] = b
            merged[module + ".weight"] = merged[module + ".weight"] + (ALPHA / R) * (b.double() @ a.double())
    write_safetensors(os.path.join(HERE, "adapter_model.safetensors"), adapter)
    with open(os.path.join(HERE, "adapter_config.json"), "w") as f:
        json.dump({"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": R, "lora_alpha": ALPHA, "lora_dropout": 0.0,
                   "target_modules": TARGETS, "bias": "none", "fan_in_fan_out": False, "use_rslora": False,
                   "modules_to_save": None, "base_model_name_or_path": "../synthetic-qwen2"}, f, indent=2)
        f.write("\n")

    model = decoder_reference.Decoder(config, merged).double()
    model.inv_freq = model.inv_freq.double()
    ids = torch.tensor([PROMPT])
    out = []
    with torch.no_grad():
        for _ in range(NEW_TOKENS):
            logits, _ = model(ids)
            nxt = int(logits[0, -1].argmax())
            out.append(nxt)
            ids = torch.cat([ids, torch.tensor([[nxt]])], dim=1)
    with open(os.path.join(HERE, "expected_outputs.json"), "w") as f:
        json.dump({"prompt_ids": PROMPT, "greedy_continuation_12": out,
                   "how": "adapter merged in float64, float64 forward pass without a cache (make_adapter.py)"}, f,
                  indent=2)
        f.write("\n")
    print(out)


if __name__ == "__main__":
    main()
