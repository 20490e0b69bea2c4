import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeShard, encodeShard, readShard, writeShard, SHARD_HEADER_BYTES } from '../../src/core/data/shards';

describe('data/shards', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shapelab-shard-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('uint16 round-trip through a file, with header fields', () => {
    const tokens = Uint16Array.from({ length: 1000 }, (_, i) => (i * 37) % 256);
    const f = path.join(dir, 'a.slab');
    writeShard(f, tokens, { vocabSize: 256, tokenizer: 'byte' });
    assert.equal(fs.statSync(f).size, SHARD_HEADER_BYTES + 2000);
    const r = readShard(f);
    assert.deepEqual(r.header, { version: 1, dtype: 'uint16', vocabSize: 256, count: 1000, tokenizer: 'byte' });
    assert.deepEqual(r.tokens, tokens);
    const raw = fs.readFileSync(f);
    assert.equal(raw.toString('latin1', 0, 4), 'SLAB');
    assert.equal(raw.readUInt16LE(SHARD_HEADER_BYTES + 2), 37, 'little-endian tokens after a 256-byte header');
  });

  it('uint32 round-trip (large vocab or forced)', () => {
    const tokens = Uint32Array.of(0, 50256, 70000, 1);
    const r = decodeShard(encodeShard(tokens, { vocabSize: 100000, tokenizer: 'custom' }));
    assert.equal(r.header.dtype, 'uint32');
    assert.deepEqual(r.tokens, tokens);
    const g = decodeShard(encodeShard([1, 2], { vocabSize: 50257, tokenizer: 'gpt2', dtype: 'uint32' }));
    assert.equal(g.header.dtype, 'uint32');
    assert.deepEqual([...g.tokens], [1, 2]);
    assert.equal(decodeShard(encodeShard([], { vocabSize: 256, tokenizer: 'byte' })).tokens.length, 0);
  });

  it('refuses truncated, foreign, or out-of-vocabulary shards, naming the file', () => {
    const good = encodeShard([1, 2, 3], { vocabSize: 256, tokenizer: 'byte' });
    assert.throws(() => decodeShard(good.subarray(0, good.length - 1), 'x.slab'), /token shard x.slab: size .*truncated/);
    assert.throws(() => decodeShard(good.subarray(0, 100), 'x.slab'), /too short/);
    const bad = Buffer.from(good);
    bad.write('NOPE', 0, 'latin1');
    assert.throws(() => decodeShard(bad, 'x.slab'), /bad magic/);
    const oov = Buffer.from(good);
    oov.writeUInt32LE(2, 12); // vocab 2, tokens up to 3
    assert.throws(() => decodeShard(oov, 'x.slab'), /outside the vocabulary/);
    assert.throws(() => encodeShard([300], { vocabSize: 256, tokenizer: 'byte' }), /outside/);
    assert.throws(() => encodeShard([1], { vocabSize: 70000, tokenizer: 'x', dtype: 'uint16' }), /does not fit uint16/);
  });
});
