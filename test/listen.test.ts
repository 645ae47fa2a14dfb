import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { CertgateError } from '../src/errors.ts';
import { checkListenHost, listenOn } from '../src/listen.ts';

const listenError = (text: RegExp) => (e: unknown) => e instanceof CertgateError && e.code === 'E_LISTEN' && text.test(e.message) && Boolean(e.fix);

async function attempt(host: string): Promise<unknown> {
  const server = createServer();
  try {
    await listenOn(server, 0, host, 'HTTPS');
    return null;
  } catch (err) {
    return err;
  } finally {
    server.close();
  }
}

test("an address that is not this machine's (EADDRNOTAVAIL) is E_LISTEN naming it", async () => {
  assert.ok(listenError(/10\.9\.9\.9:0 .*not an address of this machine/)(await attempt('10.9.9.9')));
});

test('a malformed address (999.999.999.999, not-an-address!) is E_LISTEN before listening', async () => {
  assert.ok(listenError(/"999\.999\.999\.999" is neither an IP address nor a host name/)(await attempt('999.999.999.999')));
  assert.ok(listenError(/neither/)(await attempt('not an address!')));
  assert.throws(() => checkListenHost('999.999.999.999', 'listen.host'), listenError(/^listen\.host/));
});

test('a host name that does not resolve is E_LISTEN', async () => {
  assert.ok(listenError(/the name not-an-address\.invalid does not resolve/)(await attempt('not-an-address.invalid')));
});

test('IP literals and loopback names listen', async () => {
  for (const host of ['127.0.0.1', '::1', 'localhost']) assert.equal(await attempt(host), null, host);
});
