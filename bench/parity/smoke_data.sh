set -e
W=/tmp/sm2; rm -rf $W; mkdir -p $W/data
python3 - <<'PY'
import json, sys, numpy as np
sys.path.insert(0, 'python/shapelab_torch'); import train as T
c = json.load(open('bench/parity/fixtures/tiny-config.json')); c['evalEvery'] = 10; c['evalBatches'] = 2; c['checkpointEvery'] = 10
json.dump(c, open('/tmp/sm2/config.json', 'w'))
r = np.random.default_rng(0)
T.write_shard('/tmp/sm2/data/train.slab', (np.arange(20000) % 64).tolist(), 64)
T.write_shard('/tmp/sm2/data/val.slab', (np.arange(3000) % 64).tolist(), 64)
PY
python3 python/shapelab_torch/train.py --config $W/config.json --data $W/data --out $W/run --device cuda --log-every 5
cat $W/run/events.jsonl | cut -c1-200; ls $W/run/checkpoints; cat $W/run/checkpoints/latest
