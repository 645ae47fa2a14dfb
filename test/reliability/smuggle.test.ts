/**
 * Regression tests for what the reliability suite's smuggling corpus found (RELIABILITY.md).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connect } from 'node:tls';
import { h2 } from '../../reliability/h2.ts';
import { startEdge, startUpstream } from '../edge/helpers.ts';
import { tempDir } from '../helpers/tmp.ts';

function send(port: number, ca: string, payload: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1', servername: 'localhost', ca: [ca], ALPNProtocols: ['h2'] }, () => s.write(payload));
    s.on('data', () => {});
    s.on('error', () => {});
    const timer = setTimeout(() => s.destroy(), 700);
    s.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

const post: Array<[string, string]> = [
  [':method', 'POST'],
  [':scheme', 'https'],
  [':authority', 'localhost'],
  [':path', '/delete-everything'],
];

test('an HTTP/2 request whose DATA contradicts its content-length is reset and never reaches the app (not even as an empty POST)', {
  timeout: 20_000,
}, async (t) => {
  const app = await startUpstream();
  t.after(() => app.close());
  const e = await startEdge(tempDir(t), { upstream: app.url });
  t.after(() => e.edge.close());
  await send(e.https, e.caPem, h2([...post, ['content-length', '5']], 'hello and then some more bytes'));
  await send(e.https, e.caPem, h2([...post, ['content-length', '50']], 'short'));
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(
    app.seen.map((r) => `${r.method} ${r.url} ${r.headers['content-length']}`),
    [],
  );
  // A well-formed one still goes through.
  await send(e.https, e.caPem, h2([...post, ['content-length', '5']], 'hello'));
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(app.seen.length, 1);
});
