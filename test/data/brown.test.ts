import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { brownDir, brownSplit, loadBrownDocs, stripBrownTags, BROWN_VAL_EVERY } from '../../src/core/data/brown';
import { byteUnigramEntropy, unigramEntropy } from '../../src/core/data/entropy';

describe('data/brown', () => {
  it('strips tags and rebuilds spacing and quotes', () => {
    const raw = "\n\n\tThe/at jury/nn said/vbd ``/`` no/at evidence/nn ''/'' ,/, and/cc 1/2/cd (/( see/vb )/) ./.\nIt's/pps+bez fine/jj ./.\n\n\n\tNext/ap paragraph/nn ./.\n";
    assert.equal(stripBrownTags(raw), 'The jury said "no evidence", and 1/2 (see). It\'s fine.\nNext paragraph.');
  });

  it('has 500 files and no POS tags or `` \'\' quote tokens left', () => {
    const docs = loadBrownDocs();
    assert.equal(docs.length, 500);
    const rawTags = new Set<string>();
    for (const tok of fs.readFileSync(path.join(brownDir(), 'ca01'), 'utf8').split(/\s+/)) {
      const i = tok.lastIndexOf('/');
      if (i > 0) rawTags.add(tok.slice(i + 1));
    }
    assert.ok(rawTags.has('at') && rawTags.has('nn'));
    const { train, val } = brownSplit();
    for (const text of [train, val]) {
      assert.doesNotMatch(text, /\S\/(at|nn|nns|np|in|vbd|vbz|jj|cc|rb|ppss|pps|bez|dt|cs|to|vb|nn-tl|np\$)(?=\s|$)/);
      assert.ok(!text.includes('``') && !text.includes("''"));
      assert.doesNotMatch(text, / [.,;:?!](?!\d)/, 'no space before closing punctuation'); // ':35.3' (a time) is fine
    }
  });

  it('split is fixed (every 10th file), disjoint and complete', () => {
    const a = brownSplit();
    const ids = loadBrownDocs().map((d) => d.id);
    assert.deepEqual(ids, [...ids].sort());
    assert.equal(a.valIds.length, 50);
    assert.equal(a.trainIds.length, 450);
    assert.deepEqual(a.valIds, ids.filter((_, i) => i % BROWN_VAL_EVERY === BROWN_VAL_EVERY - 1));
    const v = new Set(a.valIds);
    assert.ok(a.trainIds.every((id) => !v.has(id)));
    assert.deepEqual([...a.trainIds, ...a.valIds].sort(), ids);
    assert.equal(a.valIds[0], 'ca10');
    assert.ok(new Set(a.valIds.map((id) => id[1])).size >= 10, 'held-out files span the genres');
    // Same text from a fresh strip of the files (the cache returns what the files say).
    const fresh = stripBrownTags(fs.readFileSync(path.join(brownDir(), 'ca10'), 'utf8'));
    assert.ok(a.val.startsWith(fresh));
    assert.ok(a.train.length > 5e6 && a.val.length > 5e5);
  });

  it('byte-unigram entropy of the train split is about 4.4 bits (3.0 nats)', () => {
    const h = byteUnigramEntropy(brownSplit().train);
    assert.ok(h > 2.8 && h < 3.2, `H = ${h} nats`);
    assert.ok(Math.abs(unigramEntropy(Uint8Array.from({ length: 256 * 4 }, (_, i) => i % 256), 256) - Math.log(256)) < 1e-12);
    assert.equal(unigramEntropy([7, 7, 7], 256), 0);
    assert.throws(() => unigramEntropy([], 256), /empty/);
  });
});
