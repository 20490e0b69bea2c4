#!/usr/bin/env python3
"""ShapeLab PyTorch trainer: the one PyTorch implementation of the ShapeLab GPT.

It is both (a) the independent parity reference for ShapeLab's local ONNX trainer and (b) the
program `shapelab export torch` writes for cluster runs (torchrun, DDP or FSDP).

Contracts it follows (in the ShapeLab repository):
  docs/model.md         parameter names, [in, out] weight layout, forward, AdamW, schedule
  docs/run-format.md    run folder: config.json, metrics.jsonl, events.jsonl, checkpoints
  src/core/data/shards.ts  tokenized binary shards (.slab)
  docs/torch-export.md  this program's config.json, flags, growth semantics, parity mode

Per-depth multipliers and per-group AdamW settings are NOT derived here: they are read from the
config's `transfers` map, which ShapeLab's TypeScript core (src/core/param/parameterization.ts)
computed. Torch is imported lazily, so `--print-schedule` works without it.

Run:
  single node:  torchrun --standalone --nproc_per_node=8 train.py --config config.json --data data/
  multi node:   torchrun --nnodes=N --node_rank=R --nproc_per_node=8 \
                    --rdzv_backend=c10d --rdzv_endpoint=HOST:29500 train.py --config config.json --data data/
  parity:       python3 train.py --config config.json --init init.safetensors --batches batches.bin \
                    --steps 100 --device cuda --deterministic --out run/
Only torch, numpy and the standard library are used (safetensors files are read and written
by the small codec below, which follows the safetensors format exactly).
"""

import argparse
import contextlib
import hashlib
import json
import math
import os
import struct
import sys
import time

# ----------------------------------------------------------------------------------------------
# Pure-Python parts (no torch, no numpy): schedule, config, growth order, shard header.
# ----------------------------------------------------------------------------------------------

GROUPS = ("embedding", "preLN", "hidden", "hiddenBias", "finalLN", "unembedding")


def lr_factor(step, schedule):
    """Schedule factor s_t in [0, 1] for the 1-based step t (docs/model.md, "Schedule"; the same
    function as lrFactor in src/core/train/schedule.ts).

    schedule: {kind: 'cosine'|'wsd'|'constant', warmupSteps W, totalSteps N, minLrRatio r,
               decayFraction f (wsd only, default 0.2)}
      W > 0 and t <= W:  s = t / W                                    (linear warmup, all kinds)
      constant:          s = 1
      N' = max(N, W + 1)
      cosine:            p = min(1, (t - W) / (N' - W));  s = r + (1 - r) * (1 + cos(pi * p)) / 2
      wsd:               D = max(1, floor(f * N' + 0.5));  S = N' - D
                         t <= S: s = 1;  else s = 1 - (1 - r) * min(1, (t - S) / D)
    Steps past N' keep the value at N' (= r).
    """
    t = int(step)
    kind = schedule.get("kind", "cosine")
    W = max(0, int(schedule.get("warmupSteps", 0)))
    r = float(schedule.get("minLrRatio", 0.0))
    if W > 0 and t <= W:
        return t / W
    if kind == "constant":
        return 1.0
    N = max(int(schedule["totalSteps"]), W + 1)
    if kind == "cosine":
        p = min(1.0, (t - W) / (N - W))
        return r + (1.0 - r) * 0.5 * (1.0 + math.cos(math.pi * p))
    if kind == "wsd":
        f = schedule.get("decayFraction")
        D = max(1, int(math.floor((0.2 if f is None else float(f)) * N + 0.5)))
        S = N - D
        if t <= S:
            return 1.0
        return 1.0 - (1.0 - r) * min(1.0, (t - S) / D)
    raise ValueError("unknown schedule kind %r" % kind)


# For configs that leave a growth field out. The exporter rewrites these two lines from
# src/core/model/growthDefaults.ts (the one source of growth defaults); exported configs spell
# every field out anyway.
GROWTH_DEFAULTS = {"multiplierPolicy": "keep", "optimizerPolicy": "reset", "lrPolicy": "rewarm"}
GROWTH_DEFAULT_FACTOR = 4
GROWTH_ALIASES = {"multiplier": "multiplierPolicy", "optimizer": "optimizerPolicy", "lr": "lrPolicy"}


def growth_events(config):
    """The config's growth events (object, list or null) as a list sorted by atStep, with the
    policy fields under both spellings (run config: multiplier/optimizer/lr; events.jsonl:
    multiplierPolicy/optimizerPolicy/lrPolicy)."""
    g = config.get("growth")
    if not g:
        return []
    out = []
    for ev in (g if isinstance(g, list) else [g]):
        ev = dict(ev)
        for short, long_ in GROWTH_ALIASES.items():
            if long_ not in ev and short in ev:
                ev[long_] = ev[short]
            ev.setdefault(long_, GROWTH_DEFAULTS[long_])
        ev.setdefault("factor", GROWTH_DEFAULT_FACTOR)
        out.append(ev)
    return sorted(out, key=lambda e: int(e["atStep"]))


def growth_operator(event):
    """('stack'|'interleave'|'partial', (a, b) or None) from a growth event."""
    op = event.get("operator", "stack")
    if isinstance(op, dict):
        if "partial" in op:
            a, b = op["partial"]
            return "partial", (int(a), int(b))
        kind = op.get("kind")
        if kind == "partial":
            a, b = op["range"]
            return "partial", (int(a), int(b))
        return kind, None
    if op == "partial":
        a, b = event["range"]
        return "partial", (int(a), int(b))
    if op in ("stack", "interleave"):
        return op, None
    raise ValueError("unknown growth operator %r" % (op,))


def growth_sources(depth, factor, operator, rng=None):
    """For each block of the grown model, the index of the source block (0-based).

    stack:       [0..L-1] repeated g times            (G_stack, whole-stack order)
    interleave:  0,0,..,1,1,..  (each block g times)
    partial:     blocks a..b (inclusive) repeated: 0..b, then (g-1) extra copies of a..b, then b+1..L-1
    """
    L, g = int(depth), int(factor)
    if g < 1:
        raise ValueError("growth factor must be >= 1")
    if operator == "stack":
        return [i for _ in range(g) for i in range(L)]
    if operator == "interleave":
        return [i for i in range(L) for _ in range(g)]
    if operator == "partial":
        a, b = rng
        if not (0 <= a <= b < L):
            raise ValueError("partial range [%d, %d] outside 0..%d" % (a, b, L - 1))
        return list(range(0, b + 1)) + list(range(a, b + 1)) * (g - 1) + list(range(b + 1, L))
    raise ValueError("unknown growth operator %r" % (operator,))


def depth_plan(config):
    """[(fromStep, depth)] from the initial depth through every growth event."""
    depth = int(config["model"]["nLayers"])
    plan = [(0, depth)]
    for ev in growth_events(config):
        op, rng = growth_operator(ev)
        depth = len(growth_sources(depth, int(ev["factor"]), op, rng))
        plan.append((int(ev["atStep"]), depth))
    return plan


def schedule_of(config):
    sch = dict(config.get("schedule") or {})
    sch.setdefault("kind", "cosine")
    sch.setdefault("warmupSteps", 0)
    sch.setdefault("minLrRatio", 0.0)
    sch.setdefault("totalSteps", int(config["steps"]))
    return sch


def step_factor(step, config, origin=0):
    """s_t for the 1-based global step t, given the schedule origin (0, or the atStep of the
    last growth event with lrPolicy 'rewarm': then the schedule restarts there, warmup included,
    over the remaining totalSteps - origin steps)."""
    sch = schedule_of(config)
    if origin:  # noqa (rewarm)
        sch = dict(sch, totalSteps=int(sch["totalSteps"]) - origin)
    return lr_factor(step - origin, sch)


def schedule_origin_at(step, config):
    """The schedule origin in force at the 1-based global step `step`."""
    origin = 0
    for ev in growth_events(config):
        if int(ev["atStep"]) < step and ev.get("lrPolicy", "continue") == "rewarm":
            origin = int(ev["atStep"])
    return origin


def load_config(path):
    with open(path, "r", encoding="utf-8") as f:
        cfg = json.load(f)
    validate_config(cfg)
    return cfg


def validate_config(cfg):
    def need(cond, msg):
        if not cond:
            raise ValueError("config: " + msg)

    m = cfg.get("model")
    need(isinstance(m, dict), "missing 'model'")
    if "vocab" not in m and "vocabSize" in m:  # run-config spelling
        m["vocab"] = m["vocabSize"]
    for k in ("vocab", "context", "dModel", "nLayers", "nHeads"):
        need(isinstance(m.get(k), int) and m[k] > 0, "model.%s must be a positive integer" % k)
    need(m["dModel"] % m["nHeads"] == 0, "model.dModel must be divisible by model.nHeads")
    need(isinstance(cfg.get("steps"), int) and cfg["steps"] > 0, "steps must be a positive integer")
    need(isinstance(cfg.get("batchSize"), int) and cfg["batchSize"] > 0, "batchSize must be a positive integer")
    need(isinstance(cfg.get("gradAccum", 1), int) and cfg.get("gradAccum", 1) >= 1, "gradAccum must be a positive integer")
    tr = cfg.get("transfers")
    need(isinstance(tr, dict) and tr, "missing 'transfers' (per-depth transfer written by ShapeLab)")
    for _, d in depth_plan(cfg):
        need(str(d) in tr, "transfers has no entry for depth %d" % d)
    for key, t in tr.items():
        for g in GROUPS:
            need(g in t.get("groups", {}), "transfers[%s].groups.%s missing" % (key, g))
        for k in ("residualMultiplier", "outputMultiplier", "inputMultiplier", "attentionScale"):
            need(isinstance(t.get(k), (int, float)), "transfers[%s].%s missing" % (key, k))
    lr_factor(1, schedule_of(cfg))  # raises on an unknown kind
    for ev in growth_events(cfg):
        need(ev["multiplierPolicy"] in ("keep", "switch", "rescale"), "growth.multiplier must be keep, switch or rescale")
        need(ev["optimizerPolicy"] in ("reset", "copy"), "growth.optimizer must be reset or copy")
        need(ev["lrPolicy"] in ("continue", "rewarm"), "growth.lr must be continue or rewarm")
        need(0 < int(ev["atStep"]) < cfg["steps"], "growth.atStep must be within 1..steps-1")


def config_hash(cfg):
    return hashlib.sha256(json.dumps(cfg, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


# --- one history per run (docs/run-format.md, src/core/runs/history.ts) ---
# A session that continues from checkpoint step C logs a `resume` event with rewindTo = C and
# metricsBytes = the size of metrics.jsonl when it began: every metrics row that starts before that
# byte and has step > C was superseded (re-trained by the resumed session). Curve events (eval,
# growth, checkpoint, nonfinite) before the resume event with step > C are superseded the same way.
# Older logs: a resume without rewindTo rewinds to its step, a start after an earlier session to 0,
# both comparing the rows' `time` with the event's.

CURVE_EVENTS = ("eval", "growth", "checkpoint", "nonfinite")


def _num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def read_jsonl(path):
    """[(byte offset, record)] of the complete lines of a JSON-lines file (a torn last line is ignored)."""
    out = []
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return out
    pos = 0
    while True:
        nl = data.find(b"\n", pos)
        if nl < 0:
            break
        line = data[pos:nl].strip()
        if line:
            try:
                rec = json.loads(line.decode("utf-8"), parse_constant=float)
                if isinstance(rec, dict):
                    out.append((pos, rec))
            except ValueError:
                pass
        pos = nl + 1
    return out


def rewinds_of(events):
    out, sessions = [], 0
    for i, e in enumerate(events):
        t = e.get("type")
        if t not in ("resume", "start"):
            continue
        sessions += 1
        if _num(e.get("rewindTo")) and _num(e.get("metricsBytes")):
            out.append({"rewindTo": e["rewindTo"], "metricsBytes": e["metricsBytes"], "index": i})
        elif t == "resume" and _num(e.get("step")):
            out.append({"rewindTo": e["step"], "time": e.get("time"), "index": i})
        elif t == "start" and sessions > 1:
            out.append({"rewindTo": 0, "time": e.get("time"), "index": i})
    return out


def row_superseded(row, offset, rewinds):
    step = row.get("step")
    if not _num(step):
        return False
    for r in rewinds:
        if step <= r["rewindTo"]:
            continue
        if "metricsBytes" in r:
            if offset is not None and offset < r["metricsBytes"]:
                return True
        elif _num(r.get("time")) and _num(row.get("time")) and row["time"] < r["time"]:
            return True
    return False


def read_history(run_dir, metrics="metrics.jsonl", events="events.jsonl"):
    """The run's one history: (metrics rows, events), superseded rows and events dropped.
    Earlier attempts (`shapelab resume --restart`) are metrics="metrics.attempt-N.jsonl",
    events="events.attempt-N.jsonl"."""
    evs = [r for _, r in read_jsonl(os.path.join(run_dir, events))]
    rw = rewinds_of(evs)
    rows = [r for off, r in read_jsonl(os.path.join(run_dir, metrics)) if not row_superseded(r, off, rw)]
    kept = [e for i, e in enumerate(evs)
            if not (e.get("type") in CURVE_EVENTS and _num(e.get("step"))
                    and any(r["index"] > i and e["step"] > r["rewindTo"] for r in rw))]
    return rows, kept


def repair_torn_tail(path):
    """Cuts bytes after the last newline (a line torn by a kill), so appended records start on a line."""
    try:
        with open(path, "rb+") as f:
            data = f.read()
            keep = data.rfind(b"\n") + 1
            if keep < len(data):
                f.truncate(keep)
    except FileNotFoundError:
        pass


# --- shards (src/core/data/shards.ts) ---
# Fixed 256-byte header, little-endian: 0 'SLAB' | 4 u32 version (1) | 8 u32 bytes per token (2|4)
# | 12 u32 vocab size | 16 u64 token count | 24 u32 tokenizer name length (<= 224) | 28 u32 reserved
# | 32..255 tokenizer name (UTF-8, zero padded); then the tokens (uint16 or uint32).

SHARD_MAGIC = b"SLAB"
SHARD_HEADER_BYTES = 256


def read_shard_header(path):
    """{version, dtype, itemsize, count, vocab, tokenizer, offset} of a ShapeLab token shard."""
    with open(path, "rb") as f:
        head = f.read(SHARD_HEADER_BYTES)
    if len(head) < SHARD_HEADER_BYTES or head[:4] != SHARD_MAGIC:
        raise ValueError("%s: not a ShapeLab token shard (bad magic or short header)" % path)
    version, width, vocab, count, nlen = struct.unpack("<IIIQI", head[4:28])
    if version != 1:
        raise ValueError("%s: unsupported shard version %d" % (path, version))
    if width not in (2, 4):
        raise ValueError("%s: invalid token width %d" % (path, width))
    if nlen > SHARD_HEADER_BYTES - 32:
        raise ValueError("%s: invalid tokenizer name length %d" % (path, nlen))
    size = os.path.getsize(path)
    if size != SHARD_HEADER_BYTES + count * width:
        raise ValueError("%s: size %d does not match %d tokens of %d bytes (truncated?)" % (path, size, count, width))
    return {"version": version, "dtype": "uint16" if width == 2 else "uint32", "itemsize": width,
            "count": count, "vocab": vocab, "tokenizer": head[32:32 + nlen].decode("utf-8"),
            "offset": SHARD_HEADER_BYTES}


def write_shard(path, tokens, vocab, tokenizer="byte"):
    """Writes a shard from a sequence of ints (tests and small tools; ShapeLab writes them in TS)."""
    import array
    width = 2 if vocab <= 65536 else 4
    arr = array.array("H" if width == 2 else "I", tokens)
    if sys.byteorder != "little":
        arr.byteswap()
    name = tokenizer.encode("utf-8")
    if len(name) > SHARD_HEADER_BYTES - 32:
        raise ValueError("tokenizer name too long")
    head = SHARD_MAGIC + struct.pack("<IIIQII", 1, width, vocab, len(arr), len(name), 0) + name
    head += b"\0" * (SHARD_HEADER_BYTES - len(head))
    with open(path, "wb") as f:
        f.write(head)
        f.write(arr.tobytes())


def list_shards(path):
    """(train_files, val_files) for a shard file or a folder of shards (*.slab or *.bin): files named
    train* are training shards and val* held-out shards; with no train* file, every non-val shard trains."""
    if os.path.isfile(path):
        return [path], []
    if not os.path.isdir(path):
        raise ValueError("--data %s: no such file or folder" % path)
    files = sorted(f for f in os.listdir(path) if f.endswith(".slab") or f.endswith(".bin"))
    val = [os.path.join(path, f) for f in files if f.startswith("val")]
    train = [os.path.join(path, f) for f in files if f.startswith("train")]
    if not train:
        train = [os.path.join(path, f) for f in files if not f.startswith("val")]
    if not train:
        raise ValueError("--data %s: no .slab shards" % path)
    return train, val


# --- safetensors codec (format: u64 header length, JSON header, data; little-endian) ---

_ST_DTYPES = {"F32": ("float32", 4), "F16": ("float16", 2), "BF16": (None, 2), "I32": ("int32", 4),
              "I64": ("int64", 8), "F64": ("float64", 8)}


def read_safetensors(path):
    """(tensors: name -> numpy array, metadata: dict). BF16 is widened to float32."""
    import numpy as np
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError("%s: not a safetensors file" % path)
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8:
        raise ValueError("%s: header length %d past the end of the file" % (path, n))
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    data = memoryview(raw)[8 + n:]
    if "sha256" in meta and hashlib.sha256(data).hexdigest() != meta["sha256"]:
        raise ValueError("%s: checksum mismatch (data section)" % path)
    out = {}
    for name, info in header.items():
        s, e = info["data_offsets"]
        if not (0 <= s <= e <= len(data)):
            raise ValueError("%s: tensor %s has offsets outside the data section" % (path, name))
        dt = info["dtype"]
        if dt not in _ST_DTYPES:
            raise ValueError("%s: tensor %s has unsupported dtype %s" % (path, name, dt))
        if dt == "BF16":
            a = np.frombuffer(data[s:e], dtype="<u2").astype(np.uint32) << 16
            a = a.view(np.float32)
        else:
            a = np.frombuffer(data[s:e], dtype="<" + np.dtype(_ST_DTYPES[dt][0]).str[1:])
        out[name] = a.reshape(info["shape"]).copy()
    return out, meta


CHECKPOINT_FORMAT = "shapelab-checkpoint/1"


def index_sha256(metadata, entries):
    """`indexSha256` of docs/run-format.md: sha256 of JSON.stringify({meta, index}) with meta =
    [[key, value]] of the other metadata sorted by key, index = [[name, shape, offsets]] by name."""
    meta = [[k, metadata[k]] for k in sorted(metadata) if k != "indexSha256"]
    index = sorted([[n, list(e["shape"]), list(e["data_offsets"])] for n, e in entries], key=lambda r: r[0])
    text = json.dumps({"meta": meta, "index": index}, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_safetensors(path, tensors, metadata):
    """Writes float32/int32 numpy arrays in the given order ((name, array) pairs or a dict);
    metadata values become strings; adds `sha256` of the data section and `indexSha256` over the
    header (docs/run-format.md, Checkpoints). Written to a temp file, fsynced and renamed."""
    import numpy as np
    items = list(tensors.items()) if isinstance(tensors, dict) else list(tensors)
    entries, chunks, off = [], [], 0
    for name, a in items:
        a = np.ascontiguousarray(a)
        if a.dtype == np.int32:
            dt = "I32"
        else:
            a, dt = np.ascontiguousarray(a, dtype=np.float32), "F32"
        b = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        entries.append((name, {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}))
        chunks.append(b)
        off += len(b)
    h = hashlib.sha256()
    for c in chunks:
        h.update(c)
    meta = {k: (v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))) for k, v in metadata.items()}
    meta["sha256"] = h.hexdigest()
    meta["indexSha256"] = index_sha256(meta, entries)
    header = dict(entries)
    header["__metadata__"] = meta
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * ((8 - len(hb) % 8) % 8)
    tmp = path + ".tmp-%d" % os.getpid()
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for c in chunks:
            f.write(c)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_atomic_text(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def group_of(name):
    """The transfer group of a parameter name (docs/model.md)."""
    if name in ("wte", "wpe"):
        return "embedding"
    if name.startswith("ln_f."):
        return "finalLN"
    if name == "lm_head.weight":
        return "unembedding"
    if name.startswith("h."):
        part = name.split(".", 2)[2]
        if part.startswith("ln1.") or part.startswith("ln2."):
            return "preLN"
        return "hidden" if part.endswith(".weight") else "hiddenBias"
    raise ValueError("unknown parameter %r" % name)


def depth_of_names(names):
    blocks = {int(n.split(".")[1]) for n in names if n.startswith("h.")}
    return (max(blocks) + 1) if blocks else 0


# ----------------------------------------------------------------------------------------------
# Torch parts (imported lazily).
# ----------------------------------------------------------------------------------------------

torch = None
nn = None
F = None


def _import_torch():
    global torch, nn, F
    import torch as _t
    import torch.nn as _nn
    import torch.nn.functional as _F
    torch, nn, F = _t, _nn, _F


def torch_version():
    """(major, minor) of the imported torch ('2.11.0+cu128' -> (2, 11); '1.13.0a0' -> (1, 13))."""
    parts = []
    for p in torch.__version__.split("+")[0].split(".")[:2]:
        digits = "".join(ch for ch in p if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def build_model_classes():
    class Dense(nn.Module):
        """y = x @ W + b with W stored [in, out] (docs/model.md)."""

        def __init__(self, n_in, n_out, bias=True):
            super().__init__()
            self.weight = nn.Parameter(torch.zeros(n_in, n_out))
            self.bias = nn.Parameter(torch.zeros(n_out)) if bias else None

        def forward(self, x):
            y = x @ self.weight
            if self.bias is None:
                return y
            # under bf16 autocast y is bf16: add the bias in bf16 too (an fp32 bias would promote the
            # activation to fp32, as F.linear does not); in fp32 this is the plain x @ W + b
            return y + (self.bias if self.bias.dtype == y.dtype else self.bias.to(y.dtype))

    class LayerNorm(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(d))
            self.bias = nn.Parameter(torch.zeros(d))

        def forward(self, x):
            return F.layer_norm(x, (x.shape[-1],), self.weight, self.bias, 1e-5)

    # F.scaled_dot_product_attention exists from torch 2.0, its `scale` argument from 2.1.
    has_sdpa = hasattr(F, "scaled_dot_product_attention")
    sdpa_scale_arg = torch_version() >= (2, 1)

    class Attention(nn.Module):
        def __init__(self, d, heads, scale, math_attention):
            super().__init__()
            self.qkv = Dense(d, 3 * d)
            self.proj = Dense(d, d)
            self.heads, self.scale, self.math = heads, scale, math_attention or not has_sdpa

        def forward(self, x, mask):
            B, T, d = x.shape
            H = self.heads
            q, k, v = self.qkv(x).split(d, dim=-1)
            q = q.view(B, T, H, d // H).transpose(1, 2)
            k = k.view(B, T, H, d // H).transpose(1, 2)
            v = v.view(B, T, H, d // H).transpose(1, 2)
            if self.math:
                s = (q @ k.transpose(-2, -1)) * self.scale + mask  # additive -1e9 causal mask
                o = torch.softmax(s, dim=-1) @ v
            elif sdpa_scale_arg:
                o = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=self.scale)
            else:  # torch 2.0: SDPA scales by 1/sqrt(dh); fold the rest of the scale into q
                o = F.scaled_dot_product_attention(q * (self.scale * math.sqrt(d // H)), k, v, is_causal=True)
            return self.proj(o.transpose(1, 2).reshape(B, T, d))

    class MLP(nn.Module):
        def __init__(self, d, f):
            super().__init__()
            self.fc = Dense(d, f)
            self.proj = Dense(f, d)

        def forward(self, x):
            return self.proj(F.gelu(self.fc(x)))  # exact erf GELU

    class Block(nn.Module):
        def __init__(self, d, heads, f, scale, math_attention):
            super().__init__()
            self.ln1 = LayerNorm(d)
            self.attn = Attention(d, heads, scale, math_attention)
            self.ln2 = LayerNorm(d)
            self.mlp = MLP(d, f)
            self.residual = 1.0
            self.checkpointing = False  # --activation-checkpointing: recompute this block in backward

        def body(self, x, mask):
            x = x + self.residual * self.attn(self.ln1(x), mask)
            x = x + self.residual * self.mlp(self.ln2(x))
            return x

        def forward(self, x, mask):
            if self.checkpointing and self.training and torch.is_grad_enabled():
                from torch.utils.checkpoint import checkpoint
                return checkpoint(self.body, x, mask, use_reentrant=False)
            return self.body(x, mask)

    class GPT(nn.Module):
        def __init__(self, m, depth, mult, math_attention):
            super().__init__()
            V, T, d, H = m["vocab"], m["context"], m["dModel"], m["nHeads"]
            f = m.get("dFf") or 4 * d
            self.tied = bool(m.get("tiedEmbeddings", True))
            self.wte = nn.Parameter(torch.zeros(V, d))
            self.wpe = nn.Parameter(torch.zeros(T, d))
            self.h = nn.ModuleList([Block(d, H, f, mult["attentionScale"], math_attention) for _ in range(depth)])
            for b in self.h:
                b.residual = float(mult["residualMultiplier"])
            self.ln_f = LayerNorm(d)
            if not self.tied:
                self.lm_head = Dense(d, V, bias=False)
            self.input_mult = float(mult["inputMultiplier"])
            self.output_mult = float(mult["outputMultiplier"])
            self.T = T

        def forward(self, tokens, targets=None):
            B, T = tokens.shape
            mask = None  # SDPA applies the causal mask itself
            if any(b.attn.math for b in self.h):
                mask = torch.triu(torch.full((T, T), -1e9, device=tokens.device, dtype=self.wte.dtype), diagonal=1)
            x = self.input_mult * (self.wte[tokens] + self.wpe[:T])
            for b in self.h:
                x = b(x, mask)
            return self.head(x, targets)

        def head(self, x, targets):
            x = self.ln_f(x)
            w_out = self.wte.t() if self.tied else self.lm_head.weight
            logits = (x @ w_out) * self.output_mult
            if targets is None:
                return logits
            # the loss in fp32 (under bf16 autocast the logits are bf16)
            return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1))

    return GPT, Block


# ---------------------------------------------------------------------------------------------- 


class Trainer:
    def __init__(self, args, cfg):
        self.args, self.cfg = args, cfg
        self.m = cfg["model"]
        self.opt = dict({"beta1": 0.9, "beta2": 0.95, "clip": 1.0}, **(cfg.get("optimizer") or {}))
        self.setup_dist()
        self.GPT, self.Block = build_model_classes()
        self.depth = int(self.m["nLayers"])
        self.res_mult = None  # None: the transfer of the current depth
        self.adam_t = 0
        self.step = 0
        self.tokens = 0
        self.origin = 0
        self.model = None
        self.optimizer = None  # torch.optim.AdamW, rebuilt with the model (growth)
        self.compiled = []

    # --- distributed ---
    def setup_dist(self):
        a = self.args
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        want = a.device or ("cuda" if torch.cuda.is_available() else "cpu")
        if want == "cuda":
            if not torch.cuda.is_available():
                raise SystemExit("train.py: --device cuda but CUDA is not available")
            torch.cuda.set_device(self.local_rank)
            self.device = torch.device("cuda", self.local_rank)
        else:
            self.device = torch.device("cpu")
        self.dist = self.world > 1
        if self.dist:
            import torch.distributed as dist
            dist.init_process_group(backend="nccl" if self.device.type == "cuda" else "gloo")
        if self.args.fsdp and not self.dist:
            self.log("note: --fsdp with a single process: running unsharded")
        self.fsdp = bool(self.args.fsdp and self.dist)
        B = int(self.args.batch_size or self.cfg["batchSize"])
        if B % self.world != 0:
            raise SystemExit("train.py: global batch %d is not divisible by %d processes" % (B, self.world))
        self.B, self.local_B = B, B // self.world
        # Gradient accumulation: each optimizer step sums the gradients of `accum` micro-batches of
        # B sequences (the mean loss over all of them), as ShapeLab's trainer does.
        self.accum = int(self.cfg.get("gradAccum", 1))
        if a.deterministic:
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cudnn.deterministic = True
            torch.backends.cudnn.benchmark = False
            torch.set_float32_matmul_precision("highest")
        else:
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        self.precision = self.resolve_precision()
        # torch.compile by default on CUDA (not in parity mode): needs torch >= 2.2 (in-place Module.compile)
        self.use_compile = (self.device.type == "cuda" and not a.no_compile and not a.deterministic
                            and hasattr(torch, "compile") and hasattr(nn.Module, "compile"))
        if self.device.type == "cuda" and not a.no_compile and not a.deterministic and not self.use_compile:
            self.log("note: torch %s has no in-place Module.compile (torch >= 2.2); running without compile"
                     % torch.__version__)

    def log(self, msg):
        if self.rank == 0:
            print(msg, flush=True)

    def allreduce_sum(self, t):
        if self.dist:
            import torch.distributed as dist
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t

    def barrier(self):
        if self.dist:
            import torch.distributed as dist
            dist.barrier()

    # --- transfers ---
    def transfer(self, depth):
        t = self.cfg["transfers"].get(str(depth))
        if t is None:
            raise SystemExit("train.py: config.transfers has no entry for depth %d" % depth)
        return t

    def mults(self, depth):
        t = self.transfer(depth)
        r = self.res_mult if self.res_mult is not None else t["residualMultiplier"]
        return {"attentionScale": t["attentionScale"], "residualMultiplier": r,
                "inputMultiplier": t["inputMultiplier"], "outputMultiplier": t["outputMultiplier"]}

    # --- model construction (full state on CPU -> wrapped model on device) ---
    def math_attention(self):
        a = self.args.attention
        if a == "auto":
            return self.args.deterministic or self.device.type == "cpu"
        return a == "math"

    def init_state(self, depth, seed):
        """Full initial parameters per the transfer's init stds (name -> CPU tensor)."""
        g = torch.Generator().manual_seed(int(seed))
        model = self.GPT(self.m, depth, self.mults(depth), True)
        groups = self.transfer(depth)["groups"]
        out = {}
        for name, p in model.named_parameters():
            grp = group_of(name)
            if grp in ("preLN", "finalLN"):
                t = torch.ones_like(p) if name.endswith(".weight") else torch.zeros_like(p)
            elif grp == "hiddenBias":
                t = torch.zeros_like(p)
            else:
                t = torch.randn(p.shape, generator=g) * float(groups[grp]["initStd"])
            out[name] = t.float()
        return out

    def wrap(self, depth, params, moments):
        """Builds the model at `depth` from full CPU tensors, compiles and wraps it (DDP/FSDP) and
        builds its optimizer; moments is name -> (m, v) full CPU tensors (or None: a fresh AdamW)."""
        self.model = self.optimizer = None
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        model = self.GPT(self.m, depth, self.mults(depth), self.math_attention())
        names = [n for n, _ in model.named_parameters()]
        missing = [n for n in names if n not in params]
        extra = [n for n in params if n not in names]
        if missing or extra:
            raise SystemExit("train.py: checkpoint does not match the model: missing %s, unexpected %s"
                             % (missing[:4], extra[:4]))
        with torch.no_grad():
            for n, p in model.named_parameters():
                if tuple(params[n].shape) != tuple(p.shape):
                    raise SystemExit("train.py: %s has shape %s, model wants %s"
                                     % (n, tuple(params[n].shape), tuple(p.shape)))
                p.copy_(params[n])
        for b in model.h:
            b.checkpointing = bool(self.args.activation_checkpointing)
        self.depth = depth
        if self.fsdp:
            self.compile_regions(model)  # per block, before fully_shard (its hooks stay outside)
            model = self.shard(model)
            self.probe_compile(model)
        else:
            model = model.to(self.device)
            self.compile_regions(model)
            self.probe_compile(model)  # before DDP, whose reducer must not see this backward
            if self.dist:
                from torch.nn.parallel import DistributedDataParallel as DDP
                model = DDP(model, device_ids=[self.local_rank] if self.device.type == "cuda" else None,
                            gradient_as_bucket_view=True)
        self.model = model
        self.params = self.local_params()
        self.build_optimizer(moments)

    # --- speed: precision, compile ---
    def autocast(self):
        """bf16 autocast (fp32 weights, optimizer state and loss) when --precision resolves to bf16."""
        if self.precision != "bf16":
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)

    def resolve_precision(self):
        a = self.args
        want = a.precision or "auto"
        if want == "auto":
            # bf16 tensor cores: compute capability 8.0+ (A100, H100/H200, L40S, RTX 30xx/40xx)
            ok = (self.device.type == "cuda" and not a.deterministic
                  and torch.cuda.get_device_capability(self.device)[0] >= 8)
            return "bf16" if ok else "fp32"
        if want == "bf16" and self.device.type == "cpu":
            self.log("note: --precision bf16 on the CPU: bf16 autocast (slow on most CPUs)")
        return want

    def compile_regions(self, model):
        """torch.compile of every block and of the head (final LN, logits, loss): the blocks share one
        compiled graph, so compile time does not grow with depth, and FSDP's per-block hooks stay
        outside the compiled code. In place (Module.compile, torch >= 2.2): parameter names unchanged."""
        self.compiled = []
        if not self.use_compile:
            return
        try:
            import importlib
            cfg = importlib.import_module("torch._dynamo").config
        except ImportError:
            cfg = None
        for k in ("cache_size_limit", "recompile_limit"):  # (renamed in newer torch) room for every depth a run grows through
            if cfg is not None and hasattr(cfg, k):
                setattr(cfg, k, max(int(getattr(cfg, k)), 64))
        for b in model.h:
            b.compile()
            self.compiled.append(b)
        if not self.fsdp:  # under FSDP the root's weights are gathered per step: keep the head eager
            model.head = torch.compile(model.head)
            self.compiled.append(model)

    def uncompile(self, model, why):
        self.log("train.py: torch.compile failed (%s); continuing without compile (--no-compile hides this)" % why)
        for m in self.compiled:
            if m is model or isinstance(m, self.GPT):
                m.__dict__.pop("head", None)  # back to the class's eager method
            else:
                m._compiled_call_impl = None
        self.compiled = []
        self.use_compile = False

    def probe_compile(self, model):
        """Runs one forward+backward on a dummy batch, so a compile failure (raised lazily, at the first
        call) falls back to eager here, with one line, instead of failing step 1. Collective under FSDP."""
        if not self.compiled:
            return
        T = int(self.m["context"])
        tok = torch.zeros((self.local_B, T + 1), dtype=torch.long, device=self.device)
        try:
            with self.autocast():
                loss = model(tok[:, :-1], tok[:, 1:])
            loss.backward()
        except Exception as e:  # noqa: BLE001 -- any compiler error means: run eager
            first = (str(e).strip().splitlines() or [""])[0][:160]
            self.uncompile(model, "%s: %s" % (type(e).__name__, first))
        for p in model.parameters():
            p.grad = None

    def shard(self, model):
        def unusable(e):
            # e.g. Debian's torch 1.13: its FSDP modules do not even import under Python 3.11
            return SystemExit("train.py: --fsdp: this PyTorch (%s) cannot load FSDP (%s: %s); use a newer "
                              "PyTorch, or run without --fsdp (DDP)"
                              % (torch.__version__, type(e).__name__, (str(e).splitlines() or [""])[0][:120]))
        try:
            try:
                from torch.distributed.fsdp import fully_shard, MixedPrecisionPolicy
            except ImportError:
                from torch.distributed._composable.fsdp import fully_shard, MixedPrecisionPolicy
            try:
                from torch.distributed.device_mesh import init_device_mesh
            except ImportError:
                from torch.distributed._tensor import init_device_mesh
        except ImportError:
            fully_shard = None
        except Exception as e:
            raise unusable(e)
        if fully_shard is not None:
            if getattr(self, "mesh", None) is None:
                self.mesh = init_device_mesh(self.device.type, (self.world,))
            block_kw = {}
            if self.precision == "bf16":
                # Blocks gather bf16 weights and reduce-scatter gradients in fp32; their inputs are not
                # cast (the residual stream stays fp32, as under DDP with autocast). The root (embeddings,
                # final LN, tied head) keeps fp32 weights; autocast runs its matmul in bf16.
                block_kw["mp_policy"] = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32,
                                                             cast_forward_inputs=False)
            for b in model.h:  # fully_shard moves each unit's parameters to this rank's device
                fully_shard(b, mesh=self.mesh, **block_kw)
            fully_shard(model, mesh=self.mesh)
            self.fsdp_kind = 2
            return model
        try:
            from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
            from torch.distributed.fsdp.wrap import ModuleWrapPolicy
        except Exception as e:
            raise unusable(e)
        self.fsdp_kind = 1
        kw = {}
        if self.precision == "bf16":
            from torch.distributed.fsdp import MixedPrecision
            kw["mixed_precision"] = MixedPrecision(param_dtype=torch.bfloat16, reduce_dtype=torch.float32,
                                                   buffer_dtype=torch.float32)
        return FSDP(model, auto_wrap_policy=ModuleWrapPolicy({self.Block}), use_orig_params=True,
                    device_id=self.device, **kw)

    def inner(self):
        m = self.model
        return m.module if hasattr(m, "module") and not self.fsdp else m

    def local_params(self):
        out = []
        for n, p in self.inner().named_parameters():
            out.append((n.replace("_fsdp_wrapped_module.", "").replace("_checkpoint_wrapped_module.", ""), p))
        return out

    # --- optimizer: torch.optim.AdamW, one parameter group per ShapeLab group (docs/model.md) ---
    def build_optimizer(self, moments):
        """AdamW over self.params with each group's lr/eps/weight decay from transfers[depth]; the
        moments (full CPU tensors) and the step counter self.adam_t are loaded into its state."""
        hp = self.transfer(self.depth)["groups"]
        by_group = {}
        for n, p in self.params:
            by_group.setdefault(group_of(n), []).append(p)
        groups = [{"params": by_group[g], "lr": float(hp[g]["lr"]), "eps": float(hp[g]["eps"]),
                   "weight_decay": float(hp[g]["weightDecay"]), "shapelab_group": g, "base_lr": float(hp[g]["lr"])}
                  for g in GROUPS if g in by_group]
        betas = (float(self.opt["beta1"]), float(self.opt["beta2"]))
        self.fused = False
        opt = None
        # fused: one kernel for all parameters (torch >= 2.0 on CUDA; over FSDP2's DTensors from 2.5)
        if self.device.type == "cuda" and (not self.fsdp or torch_version() >= (2, 5)):
            try:
                opt = torch.optim.AdamW(groups, betas=betas, fused=True)
                self.fused = True
            except (TypeError, RuntimeError, ValueError):
                opt = None
        if opt is None:
            opt = torch.optim.AdamW(groups, betas=betas)
        self.optimizer = opt
        if self.adam_t == 0 and not moments:
            return  # AdamW creates zero moments at its first step
        name_of = {id(p): n for n, p in self.params}
        for g in opt.param_groups:
            for p in g["params"]:
                n = name_of[id(p)]
                if moments is not None and n in moments:
                    m, v = (self.local_shard(n, p, t) for t in moments[n])
                else:
                    m, v = torch.zeros_like(p), torch.zeros_like(p)
                opt.state[p] = {"step": self.step_tensor(g, p, self.adam_t), "exp_avg": m, "exp_avg_sq": v}

    @staticmethod
    def step_tensor(group, p, t):
        """AdamW's per-parameter step as torch keeps it: float32, on the device for fused/capturable, else CPU."""
        on_dev = group.get("fused") or group.get("capturable")
        return torch.tensor(float(t), dtype=torch.float32, device=_local(p).device if on_dev else "cpu")

    def local_shard(self, name, p, full):
        """A full CPU moment tensor shaped like parameter p (a DTensor under FSDP2)."""
        full = full.to(self.device, torch.float32)
        if not self.fsdp:
            return full.clone()
        if hasattr(p, "device_mesh"):  # FSDP2 DTensor
            try:
                from torch.distributed.tensor import distribute_tensor
            except ImportError:
                from torch.distributed._tensor import distribute_tensor
            return distribute_tensor(full, p.device_mesh, p.placements)
        raise SystemExit("train.py: loading optimizer moments under FSDP1 is not supported; "
                         "use torch >= 2.6 (FSDP2) or start without moments")

    def moments_of(self, p):
        st = self.optimizer.state.get(p) if self.optimizer is not None else None
        if not st or "exp_avg" not in st:
            z = torch.zeros_like(p)
            return z, z
        return st["exp_avg"], st["exp_avg_sq"]

    def full_state(self):
        """name -> full CPU tensors for params and (m, v); collective under FSDP (all ranks call)."""
        params, moments = {}, {}
        if self.fsdp and getattr(self, "fsdp_kind", 2) == 1:
            from torch.distributed.fsdp import FullyShardedDataParallel as FSDP, StateDictType, FullStateDictConfig
            with FSDP.state_dict_type(self.model, StateDictType.FULL_STATE_DICT,
                                      FullStateDictConfig(offload_to_cpu=True, rank0_only=False)):
                sd = self.model.state_dict()
            for k, v in sd.items():
                params[k.replace("_fsdp_wrapped_module.", "")] = v.detach().float().cpu()
            return params, None
        for n, p in self.params:
            m, v = self.moments_of(p)
            if self.fsdp:
                params[n] = p.detach().full_tensor().float().cpu()
                moments[n] = (m.full_tensor().float().cpu(), v.full_tensor().float().cpu())
            else:
                params[n] = p.detach().float().cpu().clone()
                moments[n] = (m.detach().float().cpu().clone(), v.detach().float().cpu().clone())
        return params, moments

    def optimizer_step(self, s_t):
        """Global-norm clipping, then AdamW with every group's lr at s_t * lr_g (docs/model.md)."""
        if self.args.deterministic:
            return self.docs_order_step(s_t)
        clip = float(self.opt["clip"])
        params = [p for _, p in self.params]
        max_norm = clip if clip > 0 else float("inf")  # inf: the norm is measured, nothing scaled
        if self.fsdp and getattr(self, "fsdp_kind", 2) == 1:
            norm = self.model.clip_grad_norm_(max_norm)
        elif self.fsdp and hasattr(torch.nn.utils, "get_total_norm"):
            # FSDP2 (torch >= 2.6): the norm of the sharded gradients is a DTensor; make it the full
            # (replicated) norm before scaling, as torchtitan does
            norm = torch.nn.utils.get_total_norm([p.grad for p in params if p.grad is not None], 2.0)
            if hasattr(norm, "full_tensor"):
                norm = norm.full_tensor()
            torch.nn.utils.clip_grads_with_norm_(params, max_norm, norm)
        else:
            norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
            if hasattr(norm, "full_tensor"):  # FSDP2 on torch < 2.6: a DTensor
                norm = norm.full_tensor()
        for g in self.optimizer.param_groups:
            g["lr"] = s_t * g["base_lr"]
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.adam_t += 1
        return norm

    def docs_order_step(self, s_t):
        """Parity mode: the same clipping and AdamW on the same optimizer state, in docs/model.md's order
        of float32 operations, which ShapeLab's trainer follows. torch.optim.AdamW computes the same
        math as sqrt(v) / sqrt(bc2) and lr / bc1 and clip_grad_norm_ as a norm of norms: about one ulp
        per step apart, which the loss spikes of a 30-step parity run amplify to ~1e-4 (the CI bound).
        bench/parity/selftest_torch.py checks the two against each other."""
        b1, b2, clip = float(self.opt["beta1"]), float(self.opt["beta2"]), float(self.opt["clip"])
        opt = self.optimizer
        with torch.no_grad():
            items = []
            for g in opt.param_groups:
                for p in g["params"]:
                    grad = p.grad if p.grad is not None else torch.zeros_like(p)
                    items.append((g, p, _local(grad).float()))
            sq = torch.zeros((), device=self.device, dtype=torch.float32)
            for _, _, grad in items:
                if grad.numel():
                    sq = sq + (grad * grad).sum()
            if self.fsdp:
                self.allreduce_sum(sq)
            norm = sq.sqrt()
            scale = torch.clamp(clip / (norm + 1e-6), max=1.0) if clip > 0 else torch.ones_like(norm)
            t = self.adam_t + 1
            bc1, bc2 = 1.0 - b1 ** t, 1.0 - b2 ** t
            for g, p, grad in items:
                st = opt.state[p]
                if not st:
                    st.update(step=self.step_tensor(g, p, 0), exp_avg=torch.zeros_like(p), exp_avg_sq=torch.zeros_like(p))
                st["step"] += 1
                lr, wd, eps = s_t * g["base_lr"], g["weight_decay"], g["eps"]
                w, m, v = _local(p), _local(st["exp_avg"]), _local(st["exp_avg_sq"])
                p.grad = None
                if w.numel() == 0:
                    continue
                grad = grad * scale
                m.mul_(b1).add_(grad, alpha=1.0 - b1)
                v.mul_(b2).addcmul_(grad, grad, value=1.0 - b2)
                upd = (m / bc1) / ((v / bc2).sqrt() + eps)
                if wd != 0.0:
                    w.sub_(w * (lr * wd))
                w.sub_(upd * lr)
        self.adam_t = t
        return norm

    # --- data ---
    def setup_data(self):
        a, T = self.args, int(self.m["context"])
        self.val = None
        if a.batches:
            import numpy as np
            n = os.path.getsize(a.batches) // 4
            per = self.B * (T + 1)
            if n % per != 0:
                raise SystemExit("train.py: %s holds %d int32 values, not a multiple of B*(T+1) = %d"
                                 % (a.batches, n, per))
            self.batch_file = np.memmap(a.batches, dtype="<i4", mode="r", shape=(n // per, self.B, T + 1))
            if self.batch_file.shape[0] < self.steps * self.accum:
                raise SystemExit("train.py: %s has %d batches, %d steps x %d micro-batches asked"
                                 % (a.batches, self.batch_file.shape[0], self.steps, self.accum))
            self.data_kind = "batches"
        elif a.data:
            train, val = list_shards(a.data)
            self.train_shards = [self.open_shard(p) for p in train]
            self.val_shards = [self.open_shard(p) for p in val]
            self.data_kind = "shards"
        else:
            self.data_kind = "random"

    def open_shard(self, path):
        import numpy as np
        h = read_shard_header(path)
        if h["vocab"] > int(self.m["vocab"]):
            raise SystemExit("train.py: %s has vocab %d > model vocab %d" % (path, h["vocab"], self.m["vocab"]))
        arr = np.memmap(path, dtype="<" + ("u2" if h["itemsize"] == 2 else "u4"), mode="r",
                        offset=h["offset"], shape=(h["count"],))
        T = int(self.m["context"])
        if h["count"] < T + 1:
            raise SystemExit("train.py: %s has %d tokens, fewer than T+1 = %d" % (path, h["count"], T + 1))
        return arr

    def sample_windows(self, shards, rng, n):
        import numpy as np
        T = int(self.m["context"])
        sizes = np.array([len(s) - T for s in shards], dtype=np.int64)  # valid start positions
        cum = np.cumsum(sizes)
        u = rng.integers(0, int(cum[-1]), size=n)
        out = np.empty((n, T + 1), dtype=np.int64)
        for i, x in enumerate(u):
            k = int(np.searchsorted(cum, x, side="right"))
            start = int(x - (cum[k - 1] if k else 0))
            out[i] = shards[k][start:start + T + 1]
        return out

    def global_batch(self, step):
        """The global [B, T+1] int64 batch of the 1-based micro-batch index (identical on every rank);
        without accumulation the micro-batch index is the step."""
        import numpy as np
        seed = int(self.cfg.get("seed", 0))
        if self.data_kind == "batches":
            return np.asarray(self.batch_file[step - 1], dtype=np.int64)
        rng = np.random.default_rng([seed, 1, step])
        if self.data_kind == "shards":
            return self.sample_windows(self.train_shards, rng, self.B)
        T = int(self.m["context"])
        return rng.integers(0, int(self.m["vocab"]), size=(self.B, T + 1), dtype=np.int64)

    def local_batch(self, step):
        b = self.global_batch(step)[self.rank * self.local_B:(self.rank + 1) * self.local_B]
        t = torch.from_numpy(np_contiguous(b))
        if self.device.type == "cuda":  # pinned + async: the copy does not wait for the queued step
            t = t.pin_memory().to(self.device, non_blocking=True)
        else:
            t = t.to(self.device)
        return t[:, :-1], t[:, 1:]

    # --- files ---
    def setup_run_dir(self):
        a = self.args
        self.out = a.out or os.path.join("runs", time.strftime("%Y-%m-%dT%H-%M-%S") + "-torch")
        if self.rank == 0:
            os.makedirs(os.path.join(self.out, "checkpoints"), exist_ok=True)
            metrics = os.path.join(self.out, "metrics.jsonl")
            if os.path.exists(metrics) and os.path.getsize(metrics) > 0 and not a.resume:
                raise SystemExit("train.py: %s already holds a run; use --resume or another --out" % self.out)
            cfg_path = os.path.join(self.out, "config.json")
            if not os.path.exists(cfg_path):
                write_atomic_text(cfg_path, json.dumps(self.cfg, indent=2) + "\n")
            repair_torn_tail(metrics)
            repair_torn_tail(os.path.join(self.out, "events.jsonl"))
            self.metrics_f = open(metrics, "a", encoding="utf-8")
            # where this session's rows begin: a resume event marks the rows before it that it supersedes
            self.metrics_bytes = os.path.getsize(metrics)
            self.events_f = open(os.path.join(self.out, "events.jsonl"), "a", encoding="utf-8")

    def emit(self, f, obj):
        if self.rank == 0:
            f.write(json.dumps(obj) + "\n")
            f.flush()

    def event(self, type_, **kw):
        if self.rank == 0:
            self.emit(self.events_f, dict({"type": type_, "step": self.step, "tokens": self.tokens,
                                           "time": int(time.time() * 1000)}, **kw))

    def save_checkpoint(self, reason="end"):
        t_start = time.time()
        params, moments = self.full_state()  # collective
        if self.rank != 0:
            return
        tensors = [(n, t.numpy()) for n, t in params.items()]
        if moments:
            tensors += [("opt.m." + n, moments[n][0].float().numpy()) for n in params if n in moments]
            tensors += [("opt.v." + n, moments[n][1].float().numpy()) for n in params if n in moments]
        name = "step-%08d.safetensors" % self.step
        # The trainer state in the shape of the TS trainer's LoopState (src/core/train/trainer.ts);
        # the sampler is this program's (seeded by step), so `sampler` is null.
        state = {"step": self.step, "tokens": self.tokens, "adamStep": self.adam_t, "scheduleOrigin": self.origin,
                 "depth": self.depth, "grown": self.depth != int(self.m["nLayers"]), "sampler": None,
                 "dataLoader": {"kind": self.data_kind, "seed": int(self.cfg.get("seed", 0)), "step": self.step},
                 "writer": "shapelab_torch/train.py"}
        if self.res_mult is not None:
            state["residualOverride"] = self.res_mult
        meta = {"format": CHECKPOINT_FORMAT, "step": str(self.step), "tokens": str(self.tokens),
                "depth": str(self.depth), "configHash": str(self.cfg.get("runConfigHash") or config_hash(self.cfg)[:16]),
                "state": state}
        ck = os.path.join(self.out, "checkpoints")
        write_safetensors(os.path.join(ck, name), tensors, meta)
        write_atomic_text(os.path.join(ck, "latest"), name + "\n")
        self.last_ck_at = time.time()
        self.last_ck_sec = self.last_ck_at - t_start
        self.event("checkpoint", file="checkpoints/" + name, reason=reason, seconds=round(self.last_ck_sec, 3))

    def load_init(self, path, resume):
        tensors, meta = read_safetensors(path)
        names = [n for n in tensors if not n.startswith("opt.")]
        depth = depth_of_names(names)
        params = {n: torch.from_numpy(tensors[n]).float() for n in names}
        moments = None
        if any(n.startswith("opt.m.") for n in tensors):
            moments = {n: (torch.from_numpy(tensors["opt.m." + n]).float(),
                           torch.from_numpy(tensors["opt.v." + n]).float())
                       for n in names if "opt.m." + n in tensors and "opt.v." + n in tensors}

        def js(k):
            try:
                return json.loads(meta[k]) if k in meta else None
            except ValueError:
                return None

        state = js("state") or {}  # the TS trainer's LoopState, or this program's equivalent
        if moments:
            self.adam_t = int(state.get("adamStep", meta.get("step", 0)))
        if state.get("residualOverride") is not None and (resume or depth != int(self.m["nLayers"])):
            self.res_mult = float(state["residualOverride"])  # a grown model under multiplier 'keep'
        if resume:
            self.step = int(meta.get("step", 0))
            self.tokens = int(meta.get("tokens", 0))
            self.origin = int(state.get("scheduleOrigin", 0))
        return depth, params, moments

    # --- growth ---
    def grow(self, ev):
        op, rng = growth_operator(ev)
        g = int(ev["factor"])
        src = growth_sources(self.depth, g, op, rng)
        old_depth, new_depth = self.depth, len(src)
        old_mult = self.mults(old_depth)["residualMultiplier"]
        new_mult = self.transfer(new_depth)["residualMultiplier"]
        policy = ev["multiplierPolicy"]
        k = old_mult / new_mult if policy == "rescale" else 1.0
        params, moments = self.full_state()
        new_p, new_mom = {}, {}
        for n, t in params.items():
            if not n.startswith("h."):
                new_p[n] = t
                if moments:
                    new_mom[n] = moments[n]
        for j, i in enumerate(src):
            pre_src, pre_dst = "h.%d." % i, "h.%d." % j
            for n, t in params.items():
                if n.startswith(pre_src):
                    dst = pre_dst + n[len(pre_src):]
                    t = t.clone()
                    proj = ".attn.proj." in dst or ".mlp.proj." in dst
                    if proj and k != 1.0:
                        t = t * k
                    new_p[dst] = t
                    if moments:
                        m0, v0 = moments[n]
                        if proj and k != 1.0:
                            # W' = k W gives dL/dW' = dL/dW / k: m scales by 1/k, v by 1/k^2
                            # (as src/core/train/growth.ts does).
                            m0, v0 = m0 / k, v0 / (k * k)
                        new_mom[dst] = (m0.clone(), v0.clone())
        if ev["optimizerPolicy"] == "reset":
            new_mom = None
            self.adam_t = 0
        self.res_mult = old_mult if policy == "keep" else None
        if ev["lrPolicy"] == "rewarm":
            self.origin = int(ev["atStep"])
        self.wrap(new_depth, new_p, new_mom)
        return old_depth, new_depth

    # --- loop ---
    def flops_per_token(self):
        d, T, L = int(self.m["dModel"]), int(self.m["context"]), self.depth
        f = int(self.m.get("dFf") or 4 * d)
        V = int(self.m["vocab"])
        n = L * (4 * d * d + 2 * d * f) + d * V
        return 6 * n + 12 * L * d * T

    def evaluate(self):
        import numpy as np
        if not getattr(self, "val_shards", None):
            return None
        n = int(self.cfg.get("evalBatches", 8))
        total = torch.zeros((), device=self.device)
        self.model.eval()
        with torch.no_grad():
            for i in range(n):
                b = self.sample_windows(self.val_shards, np.random.default_rng([int(self.cfg.get("seed", 0)), 2, i]), self.B)
                b = torch.from_numpy(b[self.rank * self.local_B:(self.rank + 1) * self.local_B]).to(self.device)
                with self.autocast():
                    total += self.model(b[:, :-1], b[:, 1:]).float()
        self.model.train()
        self.allreduce_sum(total)
        return float(total.item()) / (n * self.world)

    def run(self):
        a, cfg = self.args, self.cfg
        self.steps = int(a.steps or cfg["steps"])
        self.setup_data()
        self.setup_run_dir()
        if a.init or a.resume:
            path = a.init
            if a.resume and not path:
                latest = os.path.join(self.out, "checkpoints", "latest")
                if not os.path.exists(latest):
                    raise SystemExit("train.py: --resume: %s has no checkpoints/latest" % self.out)
                with open(latest) as f:
                    path = os.path.join(self.out, "checkpoints", f.read().strip())
            depth, params, moments = self.load_init(path, a.resume)
        else:
            depth = int(self.m["nLayers"])
            params, moments = self.init_state(depth, int(cfg.get("seed", 0))), None
        self.wrap(depth, params, moments)
        del params, moments
        rewind = {"rewindTo": self.step, "metricsBytes": getattr(self, "metrics_bytes", 0)} if a.resume else {}
        self.event("resume" if a.resume else "start", depth=self.depth, world=self.world,
                   device=str(self.device), fsdp=self.fsdp, data=self.data_kind,
                   deterministic=bool(a.deterministic), precision=self.precision, compile=bool(self.compiled),
                   activationCheckpointing=bool(a.activation_checkpointing), fusedAdamW=self.fused, **rewind)
        log_every = int(a.log_every or cfg.get("logEvery", 1))
        eval_every = int(cfg.get("evalEvery", 0))
        ck_every = int(a.checkpoint_every if a.checkpoint_every is not None else cfg.get("checkpointEvery", 0))
        # Wall-time cadence (run config checkpointMinutes, default 10; 0 = off): at least every M
        # minutes, never more often than 20x the last write took (<= 5% of the time). Off with
        # --checkpoint-every 0 (no checkpoints at all).
        ck_minutes = float(a.checkpoint_minutes if a.checkpoint_minutes is not None else cfg.get("checkpointMinutes", 10))
        if a.checkpoint_every == 0:
            ck_minutes = 0.0
        self.last_ck_at, self.last_ck_sec = time.time(), 0.0
        # Growth events still to come: those after the plan entry of the depth we start from (a
        # checkpoint of a grown model skips the growths it already went through), and not before
        # the current step (a growth happens before step atStep + 1).
        plan = depth_plan(cfg)
        done = max([k for k, (_, d) in enumerate(plan) if d == self.depth] or [0])
        pending_growth = [ev for ev in growth_events(cfg)[done:] if int(ev["atStep"]) >= self.step]
        growth_steps = {int(ev["atStep"]) for ev in pending_growth}
        growth_watch = None
        base_lr = float(cfg.get("base", {}).get("lr", 1.0))
        t0, tok0 = time.time(), self.tokens
        while self.step < self.steps:
            if pending_growth and int(pending_growth[0]["atStep"]) == self.step and self.step > 0:
                ev = pending_growth.pop(0)
                before = self.last_loss if hasattr(self, "last_loss") else None
                d0, d1 = self.grow(ev)
                growth_watch = {"ev": ev, "before": before, "after": [], "d0": d0, "d1": d1,
                                "step": self.step, "tokens": self.tokens}
            t = self.step + 1
            s_t = step_factor(t, cfg, self.origin)
            k = self.accum
            total = None
            for j in range(k):
                x, y = self.local_batch((t - 1) * k + j + 1)
                # DDP all-reduces on the last micro-batch only (FSDP syncs each; same result)
                sync = j == k - 1 or not self.dist or self.fsdp
                ctx = contextlib.nullcontext() if sync else self.model.no_sync()
                with ctx:
                    with self.autocast():
                        loss = self.model(x, y)
                    (loss / k if k > 1 else loss).backward()
                total = loss.detach() if total is None else total + loss.detach()
            loss = total / k if k > 1 else total
            norm = self.optimizer_step(s_t)
            self.step = t
            self.tokens += self.B * k * int(self.m["context"])
            need_log = (t % log_every == 0) or t == self.steps or growth_watch is not None or t in growth_steps
            if need_log:
                lv = loss.detach().float().clone()
                self.allreduce_sum(lv)
                lval = float(lv.item()) / self.world
                self.last_loss = lval
                if not math.isfinite(lval):
                    self.event("nonfinite", loss=str(lval))
                    raise SystemExit("train.py: non-finite loss at step %d" % t)
                if growth_watch is not None:
                    growth_watch["after"].append(lval)
                    if len(growth_watch["after"]) >= 5 or t == self.steps:
                        ev = growth_watch["ev"]
                        self.emit_growth(growth_watch, ev)
                        growth_watch = None
            if t % log_every == 0 or t == self.steps:
                if self.device.type == "cuda":
                    torch.cuda.synchronize()
                dt = max(1e-9, time.time() - t0)
                tps = (self.tokens - tok0) / dt
                t0, tok0 = time.time(), self.tokens
                rec = {"step": t, "tokens": self.tokens, "loss": self.last_loss, "lr": s_t * base_lr,
                       "tokensPerSec": tps, "tflops": tps * self.flops_per_token() / 1e12,
                       "gradNorm": float(norm.item()), "time": int(time.time() * 1000), "depth": self.depth}
                if eval_every and t % eval_every == 0:
                    el = self.evaluate()
                    if el is not None:
                        rec["evalLoss"] = el
                        self.event("eval", evalLoss=el)
                if self.rank == 0:
                    self.emit(self.metrics_f, rec)
                    if not a.quiet:
                        print("step %d loss %.6f lr %.3g gnorm %.4f tok/s %.0f depth %d"
                              % (t, rec["loss"], rec["lr"], rec["gradNorm"], tps, self.depth), flush=True)
            if t != self.steps:
                if ck_every and t % ck_every == 0:
                    self.save_checkpoint(reason="steps")
                elif ck_minutes > 0 and (not self.dist or t % log_every == 0):
                    due = time.time() - self.last_ck_at >= max(ck_minutes * 60.0, 20.0 * self.last_ck_sec)
                    if self.dist:
                        # the checkpoint is a collective: every rank takes rank 0's decision (on log steps only)
                        flag = torch.tensor(1.0 if (due and self.rank == 0) else 0.0, device=self.device)
                        self.allreduce_sum(flag)
                        due = flag.item() > 0
                    if due:
                        self.save_checkpoint(reason="time")
        if a.checkpoint_every != 0:
            self.save_checkpoint(reason="end")
        self.event("done")
        self.barrier()

    def emit_growth(self, w, ev):
        op, rng = growth_operator(ev)
        self.event("growth", depthBefore=w["d0"], depthAfter=w["d1"],
                   operator=op if op != "partial" else {"partial": list(rng)},
                   multiplierPolicy=ev["multiplierPolicy"], optimizerPolicy=ev["optimizerPolicy"],
                   lrPolicy=ev["lrPolicy"], factor=int(ev["factor"]), lossBefore=w["before"], lossesAfter=w["after"],
                   step=w["step"], tokens=w["tokens"])


def np_contiguous(a):
    import numpy as np
    return np.ascontiguousarray(a)


def _local(t):
    return t.to_local() if hasattr(t, "to_local") else t


def parse_args(argv):
    p = argparse.ArgumentParser(description="ShapeLab GPT trainer (PyTorch; torchrun for DDP/FSDP)")
    p.add_argument("--config", required=True, help="config.json written by `shapelab export torch`")
    p.add_argument("--data", help="token shard (.slab) or folder of shards (train*.slab, val*.slab)")
    p.add_argument("--batches", help="parity mode: raw little-endian int32 [steps, B, T+1] batch file")
    p.add_argument("--init", help="ShapeLab safetensors checkpoint to start from (weights, opt.m/opt.v)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its latest checkpoint")
    p.add_argument("--out", help="run folder (default runs/<time>-torch)")
    p.add_argument("--steps", type=int, help="override config.steps (the schedule keeps config.schedule.totalSteps)")
    p.add_argument("--batch-size", type=int, help="override the global batch size")
    p.add_argument("--log-every", type=int)
    p.add_argument("--checkpoint-every", type=int, help="0: no checkpoints at all (default: config, plus the end)")
    p.add_argument("--checkpoint-minutes", type=float,
                   help="also checkpoint at least every M minutes of training (default: config checkpointMinutes, else 10; 0: off)")
    p.add_argument("--history", metavar="RUN_DIR",
                   help="print the run's one history (metrics rows a resume superseded dropped) as JSON lines and exit")
    p.add_argument("--device", choices=["cpu", "cuda"])
    p.add_argument("--deterministic", action="store_true", help="TF32 off, deterministic kernels, math attention")
    p.add_argument("--attention", choices=["auto", "math", "sdpa"], default="auto")
    p.add_argument("--fsdp", action="store_true", help="shard parameters (FSDP2 fully_shard, else FSDP1)")
    p.add_argument("--precision", choices=["auto", "bf16", "fp32"], default="auto",
                   help="auto (default): bf16 autocast on CUDA GPUs with bf16 tensor cores (weights, optimizer "
                        "state and loss stay fp32), else fp32; --deterministic makes auto fp32")
    p.add_argument("--no-compile", action="store_true",
                   help="do not torch.compile the model (default on CUDA; off with --deterministic)")
    p.add_argument("--activation-checkpointing", action="store_true",
                   help="recompute each block's activations in backward (less memory, ~1/3 more compute)")
    p.add_argument("--seed", type=int, help="override config.seed")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--print-schedule", action="store_true",
                   help="print {step, factor, depth} per step as JSON lines and exit (no torch needed)")
    return p.parse_args(argv)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if "--history" in argv:  # a reader: needs neither a config nor torch
        i = argv.index("--history")
        if i + 1 >= len(argv):
            raise SystemExit("train.py: --history needs a run folder")
        rows, _ = read_history(argv[i + 1])
        for r in rows:
            print(json.dumps(r))
        return 0
    args = parse_args(argv)
    try:
        cfg = load_config(args.config)
    except (OSError, ValueError, KeyError) as e:
        raise SystemExit("train.py: %s: %s" % (args.config, e))
    if args.seed is not None:
        cfg["seed"] = args.seed
    if args.print_schedule:
        steps = int(args.steps or cfg["steps"])
        plan = depth_plan(cfg)
        for t in range(1, steps + 1):
            depth = [d for s, d in plan if s < t][-1]
            print(json.dumps({"step": t, "factor": step_factor(t, cfg, schedule_origin_at(t, cfg)), "depth": depth}))
        return 0
    _import_torch()
    if args.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
    torch.manual_seed(int(cfg.get("seed", 0)))
    tr = Trainer(args, cfg)
    try:
        tr.run()
    except KeyboardInterrupt:
        if tr.rank == 0 and hasattr(tr, "events_f"):
            tr.event("stop")
        raise
    except Exception as e:
        if tr.rank == 0 and hasattr(tr, "events_f"):
            tr.event("error", message=str(e)[:500])
        raise
    finally:
        if tr.dist:
            import torch.distributed as dist
            if dist.is_initialized():
                dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
