"""Measures the exported train.py's tokens/s at several shapes, for bench/calibrate-planner.ts.

For each shape DxLxH: asks the planner for the micro-batch it picks on the GPU (`shapelab evaluate`),
exports that model with `shapelab export torch --config`, runs train.py on random tokens for a few
steps, and writes one JSONL line {gpu, precision, dModel, nLayers, nHeads, context, vocab,
microBatch, tokensPerSec, holdout} with the median tokensPerSec of the logged steps after the first
third (torch.compile and warm-up excluded).

  python3 bench/calibration_run.py --gpu h200-sxm --shapes 768x12x6,1024x24x8,2048x16x16 \
      --holdout 1536x16x12 --out $OUT/calibration.jsonl [--steps 40] [--context 2048] [--vocab 50304]
      [--shapelab "node .devpack/app/shapelab.js"] [--device cuda] [--micro-batch B] [--precision bf16]
      [--dry-run] [-- extra train.py flags]

Then, anywhere with Node: npx tsx bench/calibrate-planner.ts calibration.jsonl
"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile


def shape_list(s):
    out = []
    for part in filter(None, (s or "").split(",")):
        d, l, h = (int(x) for x in part.lower().split("x"))
        out.append((d, l, h))
    return out


def run_json(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("calibration_run: %s failed: %s" % (" ".join(cmd), r.stderr.strip()))
    return json.loads(r.stdout)


def median_tps(metrics_path):
    tps = []
    with open(metrics_path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                rec = json.loads(line)
                if isinstance(rec.get("tokensPerSec"), (int, float)):
                    tps.append(float(rec["tokensPerSec"]))
    if len(tps) < 2:
        sys.exit("calibration_run: %s has %d tokensPerSec entries; run more --steps" % (metrics_path, len(tps)))
    return statistics.median(tps[len(tps) // 3:])


def main():
    argv = sys.argv[1:]
    extra = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    p = argparse.ArgumentParser()
    p.add_argument("--gpu", required=True)
    p.add_argument("--shapes", required=True)
    p.add_argument("--holdout", default="")
    p.add_argument("--out", required=True)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--context", type=int, default=2048)
    p.add_argument("--vocab", type=int, default=50304)
    p.add_argument("--shapelab", default="node .devpack/app/shapelab.js")
    p.add_argument("--device", default="cuda")
    p.add_argument("--micro-batch", type=int)
    p.add_argument("--precision", default="bf16", choices=["bf16", "fp32"])
    p.add_argument("--work", default=None)
    p.add_argument("--dry-run", action="store_true")
    a = p.parse_args(argv)
    shapelab = shlex.split(a.shapelab)
    work = a.work or tempfile.mkdtemp(prefix="shapelab-cal-")
    todo = [(s, False) for s in shape_list(a.shapes)] + [(s, True) for s in shape_list(a.holdout)]
    lines = []
    for (d, L, H), holdout in todo:
        name = "d%d-L%d-h%d" % (d, L, H)
        ev = run_json(shapelab + ["evaluate", "--d-model", str(d), "--layers", str(L), "--heads", str(H), "--seq", str(a.context),
                                  "--vocab", str(a.vocab), "--tokens", "1e9", "--gpu", a.gpu, "--precision", a.precision, "--json"])
        mb = a.micro_batch or int(ev["microBatch"])
        run = {"label": "calibrate-" + name, "model": {"vocabSize": a.vocab, "context": a.context, "dModel": d, "nLayers": L, "nHeads": H,
                                                        "tiedEmbeddings": True}, "batchSize": mb, "steps": a.steps}
        cfg_path = os.path.join(work, name + ".json")
        with open(cfg_path, "w", encoding="utf-8") as f:
            json.dump(run, f)
        exp = os.path.join(work, name)
        r = subprocess.run(shapelab + ["export", "torch", "--config", cfg_path, "--out", exp, "--force"], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit("calibration_run: export failed: " + r.stderr.strip())
        flags = ["--config", os.path.join(exp, "config.json"), "--out", os.path.join(exp, "run"), "--steps", str(a.steps),
                 "--log-every", "5", "--checkpoint-every", "0", "--device", a.device, "--quiet"]
        if ev.get("activationCheckpointing"):
            flags.append("--activation-checkpointing")
        cmd = [sys.executable, os.path.join(exp, "train.py")] + flags + extra
        print("%s: micro-batch %d (%s); %s" % (name, mb, ev.get("memorySetting"), " ".join(cmd)), flush=True)
        if a.dry_run:
            continue
        r = subprocess.run(cmd)
        if r.returncode != 0:
            sys.exit("calibration_run: train.py failed for %s (exit %d)" % (name, r.returncode))
        tps = median_tps(os.path.join(exp, "run", "metrics.jsonl"))
        line = {"gpu": a.gpu, "precision": a.precision, "dModel": d, "nLayers": L, "nHeads": H, "context": a.context, "vocab": a.vocab,
                "microBatch": mb, "tokensPerSec": tps, "holdout": holdout}
        print(json.dumps(line), flush=True)
        lines.append(line)
    if not a.dry_run:
        with open(a.out, "w", encoding="utf-8") as f:
            for line in lines:
                f.write(json.dumps(line) + "\n")
        print("wrote %d measurements to %s" % (len(lines), a.out))


if __name__ == "__main__":
    main()
