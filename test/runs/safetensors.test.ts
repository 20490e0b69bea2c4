import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeSafetensors, encodeSafetensors, readSafetensors, writeSafetensors, SafetensorsError, type TensorMap } from '../../src/core/runs/safetensors';

function sample(): TensorMap {
  return new Map([
    ['wte', { shape: [4, 3], data: Float32Array.from({ length: 12 }, (_, i) => i * 0.5 - 2) }],
    ['ln_f.bias', { shape: [3], data: Float32Array.of(1, -0, Number.MIN_VALUE) }],
    ['scalar', { shape: [], data: Float32Array.of(3.25) }],
    ['empty', { shape: [0, 5], data: new Float32Array(0) }],
  ]);
}

/** Builds a file from a hand-written header, to feed the validator what a broken writer might produce. */
function rawFile(header: unknown, dataBytes: number): Buffer {
  const h = Buffer.from(JSON.stringify(header));
  const b = Buffer.alloc(8 + h.length + dataBytes);
  b.writeBigUInt64LE(BigInt(h.length));
  h.copy(b, 8);
  return b;
}

describe('runs/safetensors', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shapelab-st-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('round-trips tensors and __metadata__ through a file', () => {
    const f = path.join(dir, 'a.safetensors');
    writeSafetensors(f, sample(), { step: '12', note: 'héllo' });
    const r = readSafetensors(f);
    assert.deepEqual(r.metadata, { step: '12', note: 'héllo' });
    assert.deepEqual([...r.tensors.keys()], ['wte', 'ln_f.bias', 'scalar', 'empty']);
    for (const [k, t] of sample()) {
      assert.deepEqual(r.tensors.get(k)!.shape, t.shape);
      assert.deepEqual(r.tensors.get(k)!.data, t.data);
    }
    assert.ok(Object.is(r.tensors.get('ln_f.bias')!.data[1], -0));
  });

  it('writes the standard layout: u64 LE length, JSON header padded to 8 bytes, F32 entries', () => {
    const buf = encodeSafetensors(sample(), { a: 'b' });
    const n = Number(buf.readBigUInt64LE(0));
    assert.equal((8 + n) % 8, 0);
    const header = JSON.parse(buf.toString('utf8', 8, 8 + n));
    assert.deepEqual(header.__metadata__, { a: 'b' });
    assert.deepEqual(header.wte, { dtype: 'F32', shape: [4, 3], data_offsets: [0, 48] });
    assert.deepEqual(header['ln_f.bias'].data_offsets, [48, 60]);
    assert.equal(buf.length, 8 + n + 48 + 12 + 4);
    assert.equal(buf.readFloatLE(8 + n + 4), -1.5, 'little-endian float32 data');
  });

  it('decodes from an unaligned buffer (copies instead of viewing)', () => {
    const buf = encodeSafetensors(sample());
    const shifted = Buffer.alloc(buf.length + 1);
    buf.copy(shifted, 1);
    const r = decodeSafetensors(shifted.subarray(1), 'x');
    assert.deepEqual(r.tensors.get('wte')!.data, sample().get('wte')!.data);
  });

  const cases: [string, () => Buffer, RegExp][] = [
    ['short file', () => Buffer.alloc(5), /too short/],
    ['absurd header length', () => { const b = Buffer.alloc(16); b.writeBigUInt64LE(1n << 40n); return b; }, /header length .* not plausible/],
    ['header past the end', () => encodeSafetensors(sample()).subarray(0, 20), /runs past the end/],
    ['truncated data', () => { const b = encodeSafetensors(sample()); return b.subarray(0, b.length - 4); }, /outside the .*data section|cover/],
    ['extra bytes', () => Buffer.concat([encodeSafetensors(sample()), Buffer.alloc(4)]), /extra or missing bytes/],
    ['not JSON', () => { const b = Buffer.alloc(20); b.writeBigUInt64LE(4n); b.write('{{{{', 8); return b; }, /not valid UTF-8 JSON/],
    ['JSON array header', () => rawFile([1], 0), /not a JSON object/],
    ['F16 dtype', () => rawFile({ a: { dtype: 'F16', shape: [2], data_offsets: [0, 4] } }, 4), /unsupported dtype "F16"/],
    ['bad shape', () => rawFile({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4), /invalid shape/],
    ['size/shape mismatch', () => rawFile({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, 4), /4 bytes for shape \[2\] \(expected 8\)/],
    ['overlap', () => rawFile({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8), /overlaps/],
    ['gap', () => rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8), /gap/],
    ['reversed offsets', () => rawFile({ a: { dtype: 'F32', shape: [0], data_offsets: [4, 0] } }, 4), /outside/],
    ['metadata not strings', () => rawFile({ __metadata__: { step: 3 } }, 0), /__metadata__.step is not a string/],
  ];
  for (const [name, make, re] of cases) {
    it(`refuses: ${name}, naming the file`, () => {
      assert.throws(
        () => decodeSafetensors(make(), 'runs/x/bad.safetensors'),
        (e: Error) => e instanceof SafetensorsError && e.message.startsWith('runs/x/bad.safetensors: ') && re.test(e.message),
      );
    });
  }

  it('refuses to encode inconsistent tensors', () => {
    assert.throws(() => encodeSafetensors(new Map([['a', { shape: [3], data: new Float32Array(2) }]])), /shape \[3\] has 3 elements, data has 2/);
    assert.throws(() => encodeSafetensors(new Map([['__metadata__', { shape: [0], data: new Float32Array(0) }]])), /reserved/);
  });
});
