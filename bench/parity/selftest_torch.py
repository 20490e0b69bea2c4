#!/usr/bin/env python3
"""Self-test of python/shapelab_torch/train.py on a machine with torch (the device machine).

usage: python3 bench/parity/selftest_torch.py [--device cpu|cuda] [--work DIR] [--ddp]
Checks, on the tiny fixture configs (bench/parity/fixtures, written by `shapelab export torch`):
  1. growth 'rescale' gives the same function as growth 'keep' (plain G_stack), 'switch' does not;
  2. train.py's optimizer (torch.optim.AdamW per ShapeLab group + clip_grad_norm_) equals
     docs/model.md's AdamW written out by hand, with different settings per group;
  3. an end-to-end parity-mode run (--init, --batches, growth) writes the run format, and
     --resume from a checkpoint after the growth reproduces the uninterrupted run's losses;
  4. (--ddp) torchrun with 2 processes (gloo on CPU, or NCCL with 2 GPUs) gives the 1-process
     losses at the same global batch, with and without --fsdp.
Prints one line per check and exits 1 on a failure.
"""
import argparse
import copy
import json
import math
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
TRAIN = os.path.join(ROOT, "python", "shapelab_torch", "train.py")
sys.path.insert(0, os.path.dirname(TRAIN))
import train as T  # noqa: E402

FAILED = []


def check(name, ok, detail=""):
    print("%s %s %s" % ("ok  " if ok else "FAIL", name, detail), flush=True)
    if not ok:
        FAILED.append(name)


def make_trainer(cfg, device, extra=(), mode=("--deterministic",)):
    T._import_torch()
    args = T.parse_args(["--config", "x", "--device", device, "--quiet"] + list(mode) + list(extra))
    return T.Trainer(args, cfg)


def losses(path):
    out = {}
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            out[r["step"]] = r["loss"]
    return out


def run(cmd, env=None):
    e = dict(os.environ, **(env or {}))
    p = subprocess.run(cmd, capture_output=True, text=True, env=e)
    if p.returncode != 0:
        print(p.stdout[-3000:], p.stderr[-3000:])
    return p.returncode


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--work", default="/tmp/shapelab-selftest")
    ap.add_argument("--ddp", action="store_true")
    a = ap.parse_args()
    import numpy as np
    T._import_torch()
    torch = T.torch
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)

    for fixture in ("tiny-config.json", "tiny-untied-config.json"):
        cfg = T.load_config(os.path.join(HERE, "fixtures", fixture))
        # 1. growth policies
        tr = make_trainer(cfg, a.device)
        params = tr.init_state(2, 3)
        tr.wrap(2, params, None)
        rng = np.random.default_rng(0)
        b = torch.from_numpy(rng.integers(0, cfg["model"]["vocab"], size=(4, 17))).to(tr.device)
        res = {}
        for pol in ("keep", "switch", "rescale"):
            tr.res_mult = None
            tr.wrap(2, params, None)
            ev = dict(T.growth_events(cfg)[0], multiplierPolicy=pol)
            tr.grow(ev)
            with torch.no_grad():
                res[pol] = float(tr.model(b[:, :-1], b[:, 1:]).item())
        check("%s growth rescale == keep" % fixture, abs(res["rescale"] - res["keep"]) < 1e-5, str(res))
        check("%s growth switch != keep" % fixture, abs(res["switch"] - res["keep"]) > 1e-6, str(res))

        # 2. train.py's optimizer (torch.optim.AdamW, one group per ShapeLab group, clip_grad_norm_)
        #    against docs/model.md written out by hand: different lr/eps/weight decay per group, the
        #    clip active, a changing schedule factor.
        c2 = copy.deepcopy(cfg)
        c2["optimizer"]["clip"] = 0.05
        for i, (gname, t) in enumerate(sorted(c2["transfers"]["2"]["groups"].items())):
            t.update(lr=1e-2 * (1 + i), eps=10.0 ** -(4 + i), weightDecay=0.05 * (i % 3))
        hp = c2["transfers"]["2"]["groups"]
        # fast: torch.optim.AdamW (+ clip_grad_norm_) in fp32; parity: --deterministic's docs-order step
        for label, mode, tol in (("torch.optim.AdamW", ("--precision", "fp32", "--no-compile", "--attention", "math"), 1e-5),
                                 ("parity-mode AdamW", ("--deterministic",), 1e-6)):
            tr = make_trainer(c2, a.device, mode=mode)
            tr.wrap(2, params, None)
            Model = T.build_model_classes()[0]
            ref = Model(c2["model"], 2, tr.mults(2), True).to(tr.device)
            ref.load_state_dict({k: v.to(tr.device) for k, v in params.items()})
            mom = {n: (torch.zeros_like(p), torch.zeros_like(p)) for n, p in ref.named_parameters()}
            b1, b2, clip = 0.9, 0.95, 0.05
            clipped = []
            for t_, s_t in enumerate((1.0, 0.5, 0.25), start=1):
                tr.model(b[:, :-1], b[:, 1:]).backward()
                tr.optimizer_step(s_t)
                ref.zero_grad()
                ref(b[:, :-1], b[:, 1:]).backward()
                with torch.no_grad():
                    gnorm = torch.sqrt(sum((p.grad.double() ** 2).sum() for p in ref.parameters())).item()
                    scale = min(1.0, clip / (gnorm + 1e-6))
                    clipped.append(scale < 1)
                    for n, p in ref.named_parameters():
                        h = hp[T.group_of(n)]
                        lr, wd, eps = s_t * h["lr"], h["weightDecay"], h["eps"]
                        g = p.grad * scale
                        m, v = mom[n]
                        m.mul_(b1).add_(g * (1 - b1))
                        v.mul_(b2).add_(g * g * (1 - b2))
                        upd = (m / (1 - b1 ** t_)) / (torch.sqrt(v / (1 - b2 ** t_)) + eps)
                        p.sub_(lr * wd * p + lr * upd)
            mine = dict(tr.params)
            diff = max(float((mine[n].detach() - p.detach()).abs().max()) for n, p in ref.named_parameters())
            # lr ~1e-2: 1e-5 is 0.1% of one step (torch.optim places eps against the bias correction
            # differently, sqrt(v) / sqrt(bc2) + eps vs sqrt(v / bc2) + eps, in float32).
            check("%s %s (per group, clipped) == docs/model.md (3 steps)" % (fixture, label),
                  diff < tol and all(clipped), "max |diff| %.2e, clip active %s" % (diff, clipped))
            if label == "torch.optim.AdamW":
                check("%s fast mode uses torch.optim.AdamW with one group per ShapeLab group" % fixture,
                      isinstance(tr.optimizer, torch.optim.AdamW) and len(tr.optimizer.param_groups) == len(
                          {T.group_of(n) for n, _ in tr.params}), str([g["shapelab_group"] for g in tr.optimizer.param_groups]))

    # 2b. growth with the 'copy' policy moves AdamW's state (exp_avg, exp_avg_sq, step) to the new
    #     optimizer: each new block gets its source block's moments (proj tensors under 'rescale':
    #     m / k, v / k^2), the step counter continues. Default mode (bf16 + compile on CUDA).
    cfg = T.load_config(os.path.join(HERE, "fixtures", "tiny-config.json"))
    tr = make_trainer(cfg, a.device, mode=())
    tr.wrap(2, tr.init_state(2, 3), None)
    rng = np.random.default_rng(0)
    b = torch.from_numpy(rng.integers(0, cfg["model"]["vocab"], size=(4, 17))).to(tr.device)
    for _ in range(2):
        with tr.autocast():
            loss = tr.model(b[:, :-1], b[:, 1:])
        loss.backward()
        tr.optimizer_step(1.0)
    before = {n: [t.detach().clone() for t in tr.moments_of(p)] for n, p in tr.params}
    ev = dict(T.growth_events(cfg)[0], multiplierPolicy="rescale", optimizerPolicy="copy")
    k = tr.mults(2)["residualMultiplier"] / tr.transfer(4)["residualMultiplier"]
    tr.grow(ev)
    after = {n: p for n, p in tr.params}
    worst, steps = 0.0, set()
    for j, i in enumerate(T.growth_sources(2, 2, "stack")):
        for tail, scale in ((".mlp.fc.weight", 1.0), (".mlp.proj.weight", k), (".attn.proj.bias", k)):
            st = tr.optimizer.state[after["h.%d%s" % (j, tail)]]
            m0, v0 = before["h.%d%s" % (i, tail)]
            worst = max(worst, float((st["exp_avg"] - m0 / scale).abs().max()),
                        float((st["exp_avg_sq"] - v0 / scale ** 2).abs().max()))
            steps.add(float(st["step"]))
    check("growth 'copy' maps AdamW state into the new optimizer (k = %.3g)" % k,
          worst < 1e-9 and steps == {2.0} and tr.adam_t == 2 and k != 1.0, "max |diff| %.1e, steps %s" % (worst, steps))
    with tr.autocast():
        loss = tr.model(b[:, :-1], b[:, 1:])
    loss.backward()
    tr.optimizer_step(1.0)
    check("a step after growth (default mode: precision %s, compile %s)" % (tr.precision, bool(tr.compiled)),
          math.isfinite(float(loss)) and tr.adam_t == 3, "loss %.4f" % float(loss))

    # 2c. --activation-checkpointing recomputes each block in backward (each block body runs twice
    #     per step) and leaves the gradients as they were; bf16 autocast keeps activations in bf16.
    calls = []
    grads = {}
    for ac in (False, True):
        tr = make_trainer(cfg, a.device, extra=["--activation-checkpointing"] if ac else [])
        tr.wrap(2, tr.init_state(2, 3), None)
        inner = tr.inner()
        n0 = len(calls)
        for blk in inner.h:
            body = blk.body
            blk.body = (lambda f: lambda *x: (calls.append(1), f(*x))[1])(body)
        inner(b[:, :-1], b[:, 1:]).backward()
        grads[ac] = {n: p.grad.clone() for n, p in tr.params}
        calls_ac = len(calls) - n0
    gd = max(float((grads[True][n] - grads[False][n]).abs().max()) for n in grads[False])
    check("--activation-checkpointing: each block runs twice per step, same gradients",
          calls_ac == 4 and gd == 0.0, "block bodies run %d times for 2 blocks, max |grad diff| %.1e" % (calls_ac, gd))
    tr = make_trainer(cfg, a.device, mode=("--precision", "bf16", "--no-compile"))
    tr.wrap(2, tr.init_state(2, 3), None)
    with tr.autocast():
        y = tr.inner().h[0].mlp.fc(torch.zeros(2, 3, cfg["model"]["dModel"], device=tr.device))
    check("bf16 autocast: a Dense layer's output is bf16 (the bias does not promote it)", y.dtype == torch.bfloat16, str(y.dtype))

    # 2d. a compiler that fails (as on a machine without a C compiler or Triton) is found before
    #     step 1 and gives one line and an eager model. Simulated: torch.compile returns a function
    #     that raises, as inductor does at the first call.
    import contextlib
    import io

    def broken_compile(fn, *args, **kw):
        def run(*a_, **k_):
            raise RuntimeError("simulated: no working C compiler\nsecond line")
        return run
    saved = (getattr(torch, "compile", None), getattr(torch.nn.Module, "compile", None))
    torch.compile = broken_compile
    torch.nn.Module.compile = lambda self, *a_, **k_: setattr(self, "_compiled_call_impl", broken_compile(None))
    try:
        tr = make_trainer(cfg, a.device, mode=("--precision", "fp32"))
        tr.use_compile = True
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            tr.wrap(2, tr.init_state(2, 3), None)
        loss = tr.model(b[:, :-1], b[:, 1:])
        lines = buf.getvalue().strip().splitlines()
        check("a failing torch.compile falls back to eager with one line",
              lines and len(lines) == 1 and lines[0].startswith("train.py: torch.compile failed (RuntimeError: simulated")
              and not tr.compiled and all(getattr(m, "_compiled_call_impl", None) is None for m in tr.inner().h)
              and "head" not in vars(tr.inner()) and math.isfinite(float(loss)), repr(lines))
    finally:
        for obj, name, val in ((torch, "compile", saved[0]), (torch.nn.Module, "compile", saved[1])):
            if val is None:
                delattr(obj, name)
            else:
                setattr(obj, name, val)

    # 3. end-to-end parity mode + resume
    cfg_path = os.path.join(HERE, "fixtures", "tiny-config.json")
    cfg = T.load_config(cfg_path)
    tr = make_trainer(cfg, "cpu")
    init = {n: t.numpy() for n, t in tr.init_state(2, 5).items()}
    d = os.path.join(a.work, "parity")
    os.makedirs(d)
    shutil.copy(cfg_path, os.path.join(d, "config.json"))
    T.write_safetensors(os.path.join(d, "init.safetensors"), init, {"step": 0})
    B, Tn = cfg["batchSize"], cfg["model"]["context"]
    batches = np.random.default_rng(1).integers(0, cfg["model"]["vocab"], size=(cfg["steps"], B, Tn + 1)).astype("<i4")
    batches.tofile(os.path.join(d, "batches.bin"))
    rc = run(["bash", os.path.join(HERE, "run_torch.sh"), d, "", a.device])
    check("run_torch.sh", rc == 0)
    full = losses(os.path.join(d, "torch-run", "metrics.jsonl"))
    check("parity run has every step", sorted(full) == list(range(1, cfg["steps"] + 1)), "%d steps" % len(full))
    ev = [json.loads(l) for l in open(os.path.join(d, "torch-run", "events.jsonl"))]
    g = [e for e in ev if e["type"] == "growth"]
    check("growth event", len(g) == 1 and g[0]["depthAfter"] == 4 and len(g[0]["lossesAfter"]) == 5 and g[0]["step"] == 10, json.dumps(g)[:300])
    check("losses finite (random tokens: no learning expected)", all(math.isfinite(v) for v in full.values()),
          "%.4f -> %.4f" % (full[1], full[cfg["steps"]]))
    r1 = os.path.join(a.work, "r1")
    rc = run([sys.executable, TRAIN, "--config", cfg_path, "--init", os.path.join(d, "init.safetensors"),
              "--batches", os.path.join(d, "batches.bin"), "--device", a.device, "--deterministic",
              "--checkpoint-every", "15", "--out", r1, "--quiet"])
    ck = os.path.join(r1, "checkpoints", "step-00000015.safetensors")
    check("checkpoint written", rc == 0 and os.path.exists(ck))
    tensors, meta = T.read_safetensors(ck)
    check("checkpoint has moments and metadata", "opt.m.h.3.mlp.fc.weight" in tensors and meta.get("depth") == "4", str(meta)[:200])
    r2 = os.path.join(a.work, "r2")
    os.makedirs(os.path.join(r2, "checkpoints"))
    shutil.copy(ck, os.path.join(r2, "checkpoints"))
    with open(os.path.join(r2, "checkpoints", "latest"), "w") as f:
        f.write("step-00000015.safetensors\n")
    rc = run([sys.executable, TRAIN, "--config", cfg_path, "--batches", os.path.join(d, "batches.bin"), "--resume",
              "--device", a.device, "--deterministic", "--out", r2, "--quiet"])
    res = losses(os.path.join(r2, "metrics.jsonl")) if rc == 0 else {}
    worst = max([abs(res[s] - full[s]) / full[s] for s in res] or [1.0])
    check("resume after growth reproduces steps 16..30", rc == 0 and sorted(res) == list(range(16, 31)) and worst < 1e-5,
          "max rel diff %.2e" % worst)

    # 3b. the same in the default mode (CUDA: bf16 autocast, compile, fused AdamW): a run through the
    #     growth with a checkpoint after it, and --resume from that checkpoint continues its curve.
    fa, fb = os.path.join(a.work, "fast-a"), os.path.join(a.work, "fast-b")
    common = ["--config", cfg_path, "--batches", os.path.join(d, "batches.bin"), "--device", a.device, "--quiet"]
    rc = run([sys.executable, TRAIN] + common + ["--init", os.path.join(d, "init.safetensors"), "--checkpoint-every", "15", "--out", fa])
    fast = losses(os.path.join(fa, "metrics.jsonl")) if rc == 0 else {}
    start = [json.loads(l) for l in open(os.path.join(fa, "events.jsonl")) if '"start"' in l] if rc == 0 else [{}]
    os.makedirs(os.path.join(fb, "checkpoints"))
    if rc == 0:
        shutil.copy(os.path.join(fa, "checkpoints", "step-00000015.safetensors"), os.path.join(fb, "checkpoints"))
        with open(os.path.join(fb, "checkpoints", "latest"), "w") as f:
            f.write("step-00000015.safetensors\n")
    rc2 = run([sys.executable, TRAIN] + common + ["--resume", "--out", fb])
    res = losses(os.path.join(fb, "metrics.jsonl")) if rc2 == 0 else {}
    worst = max([abs(res[s] - fast[s]) / fast[s] for s in res if s in fast] or [1.0])
    tol = 1e-5 if a.device == "cpu" else 2e-2
    check("default mode (%s): growth run + resume after it reproduces steps 16..30" % json.dumps(
              {k: start[0].get(k) for k in ("precision", "compile", "fusedAdamW")}),
          rc == 0 and rc2 == 0 and sorted(res) == list(range(16, 31)) and worst < tol, "max rel diff %.2e" % worst)

    # 4. data parallel
    if a.ddp:
        ngpu = torch.cuda.device_count() if a.device == "cuda" else 0
        dev = "cuda" if ngpu >= 2 else "cpu"
        one = os.path.join(a.work, "one")
        rc = run([sys.executable, TRAIN, "--config", cfg_path, "--init", os.path.join(d, "init.safetensors"),
                  "--batches", os.path.join(d, "batches.bin"), "--device", dev, "--deterministic", "--out", one, "--quiet"])
        base = losses(os.path.join(one, "metrics.jsonl")) if rc == 0 else {}
        for extra in ([], ["--fsdp"]):
            out = os.path.join(a.work, "two" + "".join(extra).replace("-", ""))
            rc = run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", TRAIN,
                      "--config", cfg_path, "--init", os.path.join(d, "init.safetensors"),
                      "--batches", os.path.join(d, "batches.bin"), "--device", dev, "--deterministic",
                      "--out", out, "--quiet"] + extra)
            two = losses(os.path.join(out, "metrics.jsonl")) if rc == 0 else {}
            worst = max([abs(two[s] - base[s]) / base[s] for s in two if s in base] or [1.0])
            check("2 processes %s on %s == 1 process" % (" ".join(extra) or "DDP", dev),
                  rc == 0 and len(two) == cfg["steps"] and worst < 1e-4, "max rel diff %.2e" % worst)
    print("FAILED: %s" % FAILED if FAILED else "all checks passed")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
