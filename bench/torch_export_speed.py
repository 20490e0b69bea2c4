#!/usr/bin/env python3
"""Tokens/s of the exported program (python/shapelab_torch/train.py, default mode) against an
independent best-practice PyTorch program of the same size, side by side (issue 11, "Done means").

  python3 bench/torch_export_speed.py [--out DIR] [--warmup 5] [--steps 20] [SHAPE ...]
  SHAPE = dModel x nLayers x nHeads x context x vocab x microBatch, e.g. 1024x12x8x1024x50304x16

For every shape, each program runs in its own process on random tokens:
  export     train.py as a user runs it (`train.py --config config.json`, no speed flags): its
             tokens/s over the timed steps is read from its own metrics.jsonl. The config.json is
             written here (on the device there is no Node to run `shapelab export torch`): the
             shape, one transfer for its depth (multipliers and per-group AdamW settings with
             CompleteP-like values; they change the numbers, not the speed), steps = warmup + timed.
  reference  written from scratch below, the usual best practice: nn.Linear GPT (tied
             embeddings, GELU MLP 4d, pre-LN), bf16 autocast, F.scaled_dot_product_attention
             (causal), torch.compile of the whole model, torch.optim.AdamW(fused=True) with a
             decay / no-decay group, clip_grad_norm_(1.0); tokens drawn on the GPU.
Both count the same FLOPs per token: 6N + 12 L d T, N = L (4d^2 + 2 d dFf) + d V (matmul weights,
including the tied head; PaLM's convention, appendix B). MFU = tokens/s x FLOPs per token / peak,
peak = the GPU's dense bf16 tensor peak from src/core/plan/hardware.json (H100 SXM and H200 SXM:
989 TFLOP/s, NVIDIA H100/H200 datasheets: 1,979 with sparsity), or --peak-tflops.

Writes DIR/torch-export-speed.jsonl (every field, both programs) and DIR/calibration.jsonl (train.py
rows only, the planner's schema read by bench/calibrate-planner.ts: {gpu, precision, dModel,
nLayers, nHeads, context, vocab, microBatch, tokensPerSec, program}),
each row as soon as it is measured, and prints a table. --device cpu runs the same at tiny sizes
(fp32, no compile on old torch) to test this script.
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, ".."))
TRAIN = os.path.join(ROOT, "python", "shapelab_torch", "train.py")
HARDWARE = os.path.join(ROOT, "src", "core", "plan", "hardware.json")

# The shape, then ~125M, ~350M and ~0.9B parameters at T 2048 with head size 128 (the
# planner's default and its calibration shapes in bench/calibration_run.py: 768x12x6, 1024x24x8,
# 2048x16x16). Micro-batches that fit an 80 GB GPU without activation checkpointing.
DEFAULT_SHAPES = ["1024x12x8x1024x50304x16", "768x12x6x2048x50304x16", "1024x24x8x2048x50304x16",
                  "2048x16x16x2048x50304x8"]
CPU_SHAPES = ["64x2x4x64x512x4", "96x3x4x128x512x2"]


def parse_shape(s):
    try:
        d, L, H, T, V, B = (int(x) for x in s.lower().split("x"))
    except ValueError:
        raise SystemExit("torch_export_speed.py: shape %r is not dModel x nLayers x nHeads x context x vocab x microBatch" % s)
    if min(d, L, H, T, V, B) <= 0 or d % H:
        raise SystemExit("torch_export_speed.py: shape %r: positive sizes, dModel divisible by nHeads" % s)
    return {"dModel": d, "nLayers": L, "nHeads": H, "context": T, "vocab": V, "microBatch": B}


def flops_per_token(sh):
    d, L, T, V = sh["dModel"], sh["nLayers"], sh["context"], sh["vocab"]
    n = L * (4 * d * d + 2 * d * 4 * d) + d * V
    return 6 * n + 12 * L * d * T, n


# ----------------------------------------------------------------------------------------------
# The reference program (runs in its own process: --worker reference SHAPE)
# ----------------------------------------------------------------------------------------------

def reference_worker(sh, warmup, steps, device):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    d, L, H, T, V, B = (sh[k] for k in ("dModel", "nLayers", "nHeads", "context", "vocab", "microBatch"))
    sdpa = hasattr(F, "scaled_dot_product_attention")

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.qkv, self.out = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.up, self.down = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

        def forward(self, x):
            b, t, _ = x.shape
            q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, H, d // H).permute(2, 0, 3, 1, 4)
            if sdpa:
                y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:  # torch < 2.0 (CPU test only)
                att = (q @ k.transpose(-1, -2)) / math.sqrt(d // H)
                att = att.masked_fill(torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1), float("-inf"))
                y = att.softmax(-1) @ v
            x = x + self.out(y.transpose(1, 2).reshape(b, t, d))
            return x + self.down(F.gelu(self.up(self.ln2(x))))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok, self.pos = nn.Embedding(V, d), nn.Embedding(T, d)
            self.blocks = nn.ModuleList([Block() for _ in range(L)])
            self.ln = nn.LayerNorm(d)
            self.head = nn.Linear(d, V, bias=False)
            self.head.weight = self.tok.weight  # tied
            for p in self.parameters():
                if p.dim() == 2:
                    nn.init.normal_(p, std=0.02)

        def forward(self, idx, tgt):
            x = self.tok(idx) + self.pos.weight[: idx.shape[1]]
            for blk in self.blocks:
                x = blk(x)
            logits = self.head(self.ln(x))
            return F.cross_entropy(logits.view(-1, V).float(), tgt.reshape(-1))

    dev = torch.device(device)
    model = GPT().to(dev)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}]
    cuda = dev.type == "cuda"
    opt = torch.optim.AdamW(groups, lr=3e-4, betas=(0.9, 0.95), **({"fused": True} if cuda else {}))
    bf16 = cuda and torch.cuda.get_device_capability(dev)[0] >= 8
    compiled = cuda and hasattr(torch, "compile")
    fwd = torch.compile(model) if compiled else model

    def step():
        seq = torch.randint(0, V, (B, T + 1), device=dev)
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=bf16):
            loss = fwd(seq[:, :-1], seq[:, 1:])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    def sync():
        if cuda:
            torch.cuda.synchronize()

    t_start = time.time()
    notes = []
    try:
        loss = step()
    except Exception as e:  # noqa: BLE001 -- no compiler here: measure eager, and say so
        if not compiled:
            raise
        notes.append("torch.compile failed (%s); measured eager" % (str(e).strip().splitlines() or [""])[0][:160])
        opt.zero_grad(set_to_none=True)
        fwd, compiled = model, False
        loss = step()
    for _ in range(warmup - 1):
        loss = step()
    float(loss)
    sync()
    warm_s = time.time() - t_start
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = step()
    lv = float(loss)
    sync()
    dt = time.perf_counter() - t0
    mem = torch.cuda.max_memory_allocated(dev) / 2**30 if cuda else None
    return {"tokensPerSec": steps * B * T / dt, "stepMs": 1000 * dt / steps, "warmupSeconds": warm_s,
            "precision": "bf16" if bf16 else "fp32", "compile": compiled, "loss": lv, "maxMemoryGiB": mem,
            "params": sum(p.numel() for p in model.parameters()), "torch": torch.__version__, "notes": notes}


# ----------------------------------------------------------------------------------------------
# The exported program
# ----------------------------------------------------------------------------------------------

def export_config(sh, steps, log_every):
    """A config.json in the shape `shapelab export torch` writes (docs/torch-export.md)."""
    d, L, H = sh["dModel"], sh["nLayers"], sh["nHeads"]
    std = 0.02

    def grp(init, lr, wd):
        return {"initStd": init, "lr": lr, "eps": 1e-8, "weightDecay": wd}

    transfer = {"groups": {"embedding": grp(std, 3e-3, 0.1), "preLN": grp(0, 3e-3, 0.0),
                           "hidden": grp(std / math.sqrt(d / 256), 3e-3 * 256 / d, 0.1),
                           "hiddenBias": grp(0, 3e-3, 0.0), "finalLN": grp(0, 3e-3, 0.0),
                           "unembedding": grp(std, 3e-3, 0.1)},
                "residualMultiplier": 1.0 / L, "inputMultiplier": 1.0, "outputMultiplier": 256 / d,
                "attentionScale": 1.0 / (d // H)}
    return {"version": 1, "label": "torch-export-speed",
            "model": {"vocabSize": sh["vocab"], "context": sh["context"], "dModel": d, "nLayers": L, "nHeads": H,
                      "dFf": 4 * d, "tiedEmbeddings": True},
            "parameterization": "completep", "optimizer": {"beta1": 0.9, "beta2": 0.95, "clip": 1.0},
            "schedule": {"kind": "cosine", "warmupSteps": 2, "totalSteps": steps, "minLrRatio": 0.1},
            "batchSize": sh["microBatch"], "steps": steps, "evalEvery": 0, "checkpointEvery": 0,
            "logEvery": log_every, "seed": 1, "format": "shapelab-torch", "transfers": {str(L): transfer}}


def run_export(sh, warmup, steps, device, work, timeout, extra):
    d = tempfile.mkdtemp(prefix="export-", dir=work)
    log_every = math.gcd(warmup, steps)  # records at the end of warm-up, then through the timed steps
    cfg = os.path.join(d, "config.json")
    with open(cfg, "w") as f:
        json.dump(export_config(sh, warmup + steps, log_every), f)
    out = os.path.join(d, "run")
    cmd = [sys.executable, TRAIN, "--config", cfg, "--out", out, "--checkpoint-every", "0", "--quiet"]
    if device == "cpu":
        cmd += ["--device", "cpu"]
    cmd += extra
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    wall = time.time() - t0
    if p.returncode != 0:
        raise RuntimeError("train.py exited %d: %s" % (p.returncode, (p.stderr or p.stdout).strip()[-1500:]))
    recs = [json.loads(x) for x in open(os.path.join(out, "metrics.jsonl")) if x.strip()]
    start = [json.loads(x) for x in open(os.path.join(out, "events.jsonl")) if '"start"' in x][0]
    timed = [r for r in recs if r["step"] > warmup]
    per_record = log_every * sh["microBatch"] * sh["context"]  # tokens in each timed record's interval
    toks = per_record * len(timed)
    secs = sum(per_record / r["tokensPerSec"] for r in timed)
    notes = [x for x in p.stdout.splitlines() if x.startswith("train.py:") or x.startswith("note:")]
    shutil.rmtree(d, ignore_errors=True)
    return {"tokensPerSec": toks / secs, "stepMs": 1000 * secs / steps, "processSeconds": wall,
            "precision": start.get("precision", "fp32"), "compile": bool(start.get("compile")),
            "fusedAdamW": start.get("fusedAdamW"), "loss": timed[-1]["loss"], "notes": notes}


# ----------------------------------------------------------------------------------------------

def gpu_info(device, peak_override):
    """(gpu id of the planner's hardware table or the device name, peak bf16 FLOP/s or None)."""
    if device == "cpu":
        return "cpu", (peak_override * 1e12 if peak_override else None)
    import torch
    name = torch.cuda.get_device_name(0)
    key = name.lower().replace(" ", "-")
    best, peak = None, None
    try:
        table = json.load(open(HARDWARE))["gpus"]
    except (OSError, ValueError, KeyError):
        table = []
    for g in table:
        for k in [g["name"]] + list(g.get("aliases", [])):
            if k in key and (best is None or len(k) > len(best[0])):
                best = (k, g)
    gid = name
    if best:
        gid, peak = best[1]["name"], best[1]["bf16Tflops"] * 1e12
    if peak_override:
        peak = peak_override * 1e12
    return gid, peak


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("shapes", nargs="*")
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    ap.add_argument("--warmup", type=int, default=5, help="untimed steps (compile happens here)")
    ap.add_argument("--steps", type=int, default=20, help="timed steps")
    ap.add_argument("--programs", default="export,reference")
    ap.add_argument("--out", default=".")
    ap.add_argument("--peak-tflops", type=float, help="dense bf16 peak when the GPU is not in hardware.json")
    ap.add_argument("--timeout", type=int, default=240, help="seconds per program run")
    ap.add_argument("--export-args", default="", help="extra train.py flags, e.g. '--activation-checkpointing'")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:  # child process: one reference run, one JSON line
        print(json.dumps(reference_worker(parse_shape(a.worker), a.warmup, a.steps, a.device)))
        return 0
    shapes = [parse_shape(s) for s in (a.shapes or (CPU_SHAPES if a.device == "cpu" else DEFAULT_SHAPES))]
    programs = [p for p in a.programs.split(",") if p]
    gid, peak = gpu_info(a.device, a.peak_tflops)
    os.makedirs(a.out, exist_ok=True)
    full_f = open(os.path.join(a.out, "torch-export-speed.jsonl"), "a")
    cal_f = open(os.path.join(a.out, "calibration.jsonl"), "a")
    work = tempfile.mkdtemp(prefix="torch-export-speed-")
    t_all = time.time()
    rows = []
    head = "%-26s %-9s %-5s %12s %9s %7s %8s %8s" % ("shape dxLxHxTxVxB", "program", "prec", "tokens/s", "step ms",
                                                    "MFU", "vs ref", "proc s")
    print(head, flush=True)

    def line(r):
        shape = "x".join(str(r[k]) for k in ("dModel", "nLayers", "nHeads", "context", "vocab", "microBatch"))
        return "%-26s %-9s %-5s %12.0f %9.1f %7s %8s %8.0f" % (
            shape, r["program"], r["precision"], r["tokensPerSec"], r["stepMs"],
            "%.1f%%" % (100 * r["mfu"]) if r["mfu"] is not None else "-",
            "%.2fx" % r["vsReference"] if "vsReference" in r else "", r["processSeconds"])
    for sh in shapes:
        fpt, n = flops_per_token(sh)
        got = {}
        for prog in programs:
            try:
                if prog == "export":
                    r = run_export(sh, a.warmup, a.steps, a.device, work, a.timeout, a.export_args.split())
                else:
                    cmd = [sys.executable, os.path.abspath(__file__), "--worker", "x".join(str(sh[k]) for k in (
                        "dModel", "nLayers", "nHeads", "context", "vocab", "microBatch")),
                        "--warmup", str(a.warmup), "--steps", str(a.steps), "--device", a.device]
                    t0 = time.time()
                    p = subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout)
                    if p.returncode != 0:
                        raise RuntimeError("reference exited %d: %s" % (p.returncode, p.stderr.strip()[-1500:]))
                    r = json.loads(p.stdout.strip().splitlines()[-1])
                    r["processSeconds"] = time.time() - t0
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                print("%s %s: %s" % (prog, sh, str(e).splitlines()[-1] if str(e) else type(e).__name__), file=sys.stderr, flush=True)
                continue
            for note in r.get("notes") or []:
                print("%s %s: %s" % (prog, "x".join(str(v) for v in sh.values()), note), file=sys.stderr, flush=True)
            r.update(sh, program=prog, gpu=gid, flopsPerToken=fpt, params=n)
            r["mfu"] = r["tokensPerSec"] * fpt / peak if peak else None
            got[prog] = r
        if "export" in got and "reference" in got:
            got["export"]["vsReference"] = got["export"]["tokensPerSec"] / got["reference"]["tokensPerSec"]
        for prog, r in got.items():
            full_f.write(json.dumps(r) + "\n")
            if prog == "export":  # the planner calibrates on the program it exports, never on the reference
                cal = {k: r[k] for k in ("gpu", "precision", "dModel", "nLayers", "nHeads", "context", "vocab", "microBatch")}
                cal.update(tokensPerSec=round(r["tokensPerSec"], 1), program="train.py")
                cal_f.write(json.dumps(cal) + "\n")
            rows.append(r)
            print(line(r), flush=True)
        full_f.flush()
        cal_f.flush()
    shutil.rmtree(work, ignore_errors=True)
    print("gpu %s, peak %s, %d warm-up + %d timed steps, %.0f s in all" % (
        gid, "%.0f TFLOP/s bf16" % (peak / 1e12) if peak else "unknown (no MFU)", a.warmup, a.steps, time.time() - t_all))
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
