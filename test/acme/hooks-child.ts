// Run by hooks.test.ts in a process of its own (node:test itself keeps async hooks on): one
// issuance against the Pebble the parent started, then whether promises still carry async ids.
import { executionAsyncId } from 'node:async_hooks';
import type { Pebble } from '../helpers/pebble.ts';
import { name, rig } from './helpers.ts';

const pebble = JSON.parse(process.env.CERTGATE_TEST_PEBBLE as string) as Pebble;
const idInReaction = () => Promise.resolve().then(() => executionAsyncId());
const before = await idInReaction();
const r = await rig(pebble);
try {
  const host = name('hooks');
  await r.manager.obtain(host);
  const issued = (await r.store.getBundle(host)) !== null;
  process.stdout.write(`${JSON.stringify({ before, issued, after: await idInReaction() })}\n`);
} finally {
  await r.close();
}
