import { strict as assert } from 'node:assert';
import { ByteTokenizer, Gpt2Tokenizer, createTokenizer, isTokenizerName } from '../../src/core/data/tokenizers';
import { brownSplit } from '../../src/core/data/brown';

const SAMPLES = ['', 'hello world', 'héllo 日本語 🙂 tab\tnew\nline', '<|endoftext|> is just text', 'a'.repeat(1000)];

describe('data/tokenizers', () => {
  it('byte tokenizer: vocab 256, ids are the UTF-8 bytes, round-trips', () => {
    const t = new ByteTokenizer();
    assert.equal(t.vocabSize, 256);
    assert.deepEqual([...t.encode('Aé')], [0x41, 0xc3, 0xa9]);
    for (const s of SAMPLES) assert.equal(t.decode(t.encode(s)), s);
  });

  it('byte tokenizer: a cut multi-byte character decodes to U+FFFD, out-of-range ids throw', () => {
    const t = new ByteTokenizer();
    assert.equal(t.decode([0xc3]), '\ufffd');
    assert.throws(() => t.decode([256]), /outside \[0, 256\)/);
    assert.throws(() => t.decode([-1]), /outside/);
  });

  it('gpt2 tokenizer: vocab 50257, known ids, round-trips, special tokens stay text', () => {
    const t = new Gpt2Tokenizer();
    assert.equal(t.vocabSize, 50257);
    assert.deepEqual([...t.encode('Hello world')], [15496, 995]);
    for (const s of SAMPLES) assert.equal(t.decode(t.encode(s)), s);
    assert.ok(![...t.encode('<|endoftext|>')].includes(50256), 'user text must not produce the EOT control token');
    assert.throws(() => t.decode([50257]), /outside/);
  });

  it('gpt2 round-trips a Brown sample and compresses it ~4x vs bytes', () => {
    const text = brownSplit().val.slice(0, 20000);
    const t = createTokenizer('gpt2');
    const ids = t.encode(text);
    assert.equal(t.decode(ids), text);
    assert.ok(ids.length < text.length / 3, `${ids.length} tokens for ${text.length} chars`);
  });

  it('createTokenizer / isTokenizerName', () => {
    assert.equal(createTokenizer('byte').name, 'byte');
    assert.equal(createTokenizer('gpt2').name, 'gpt2');
    assert.throws(() => createTokenizer('bpe' as never), /unknown tokenizer 'bpe'/);
    assert.equal(isTokenizerName('gpt2'), true);
    assert.equal(isTokenizerName('x'), false);
  });
});
