import { strict as assert } from 'node:assert';
import { csp, makeNonce, page } from '../../src/extension/logic/html';

describe('webview HTML and CSP', () => {
  it('CSP: nothing by default, scripts only by nonce, no unsafe-*', () => {
    const c = csp('https://src.example', 'abc123');
    assert.match(c, /^default-src 'none'/);
    assert.match(c, /script-src 'nonce-abc123'(;|$)/);
    assert.doesNotMatch(c, /unsafe/);
    assert.match(c, /style-src https:\/\/src\.example 'nonce-abc123'/);
  });

  it('nonces are fresh and long', () => {
    const a = makeNonce();
    assert.ok(/^[A-Za-z0-9]{20,}$/.test(a));
    assert.notEqual(a, makeNonce());
  });

  it('page(): every script carries the nonce, attributes are escaped, no inline script', () => {
    const html = page({ title: '<x>', cspSource: 'vscode-resource:', nonce: 'N0nce', scripts: ['a.js?"onload="x'], styles: ['s.css'], body: '<div id="app"></div>' });
    assert.match(html, /<script nonce="N0nce" src="a\.js\?&quot;onload=&quot;x"><\/script>/);
    assert.match(html, /<title>&lt;x&gt;<\/title>/);
    assert.equal((html.match(/<script/g) || []).length, 1);
    assert.match(html, /content="default-src 'none';/);
  });
});
