"""PyTorch eager baseline for bench/train-throughput.ts: the same GPT shape, AdamW step, fp32.

On a GPU (default, the device machine) prints one JSON line per configuration, all eager (no
torch.compile): "fp32" (TF32 off, explicit masked softmax attention, foreach AdamW: the
like-for-like baseline for ShapeLab's float32 WebGPU path); "fp32-sdpa-fused" (what a user would
write for fp32: F.scaled_dot_product_attention and torch.optim.AdamW(fused=True), TF32 off); and,
for context, "tf32-sdpa-fused" and "bf16-sdpa-fused" (bf16 autocast). With --device cpu (e.g.
Debian's python3-torch) only fp32, the baseline for ShapeLab's CPU execution provider.

  python3 bench/torch_speed.py [--device cuda|cpu] VxTxDxLxHxB ...
"""
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d, h, r):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc, self.mp = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
        self.h, self.r = h, r

    def forward(self, x, mask):
        B, T, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
        q, k, v = (t.view(B, T, self.h, d // self.h).transpose(1, 2) for t in (q, k, v))
        if mask is None:  # SDPA: fused causal attention; the T x T scores are never stored
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=1.0 / (d // self.h))
        else:
            y = torch.softmax((q @ k.transpose(-1, -2)) / (d // self.h) + mask, dim=-1) @ v
        x = x + self.r * self.proj(y.transpose(1, 2).reshape(B, T, d))
        return x + self.r * self.mp(F.gelu(self.fc(self.ln2(x))))


class GPT(nn.Module):
    def __init__(self, V, T, d, L, H):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(V, d), nn.Embedding(T, d)
        self.blocks = nn.ModuleList([Block(d, H, 2.0 / L) for _ in range(L)])
        self.lnf = nn.LayerNorm(d)
        self.register_buffer("mask", torch.triu(torch.full((T, T), -1e9), 1))

    def forward(self, idx, tgt, sdpa=False):
        x = self.wte(idx) + self.wpe.weight[: idx.shape[1]]
        for b in self.blocks:
            x = b(x, None if sdpa else self.mask)
        logits = self.lnf(x) @ self.wte.weight.t() / 2.0
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), tgt.view(-1))


def sync(dev):
    if dev == "cuda":
        torch.cuda.synchronize()


def bench(V, T, d, L, H, B, mode, steps=20, dev="cuda"):
    tf32 = mode.startswith("tf32")
    sdpa = mode.endswith("sdpa-fused")
    bf16 = mode.startswith("bf16")
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    model = GPT(V, T, d, L, H).to(dev)
    kw = {"fused": True} if sdpa and dev == "cuda" else {}
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.1, **kw)
    idx = torch.randint(0, V, (B, T), device=dev)
    tgt = torch.randint(0, V, (B, T), device=dev)

    def step():
        with torch.autocast(dev, dtype=torch.bfloat16, enabled=bf16):
            loss = model(idx, tgt, sdpa)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    for _ in range(3):
        step()
    sync(dev)
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = step()
    loss.item()
    sync(dev)
    ms = (time.perf_counter() - t0) / steps * 1000
    n = sum(p.numel() for p in model.parameters())
    tok = B * T / (ms / 1000)
    return {"device": dev, "threads": torch.get_num_threads(), "V": V, "T": T, "d": d, "L": L, "B": B, "mode": mode, "params": n, "stepMs": round(ms, 2),
            "tokPerSec": round(tok), "tflops": round((6 * n + 12 * L * d * T) * tok / 1e12, 2)}


if __name__ == "__main__":
    args = sys.argv[1:]
    dev = "cuda"
    if args[:1] == ["--device"]:
        dev, args = args[1], args[2:]
    if dev == "cpu":
        import os
        # Debian's torch starts with one OpenMP thread here; use every core, as onnxruntime does.
        torch.set_num_threads(os.cpu_count() or 1)
    shapes = [tuple(int(v) for v in s.split("x")) for s in (args or ["256x256x512x8x8x32"])]
    for V, T, d, L, H, B in shapes:
        for mode in (("fp32", "fp32-sdpa-fused", "tf32-sdpa-fused", "bf16-sdpa-fused") if dev == "cuda" else ("fp32",)):
            print(json.dumps(bench(V, T, d, L, H, B, mode, dev=dev)), flush=True)
