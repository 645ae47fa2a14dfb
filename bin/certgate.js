#!/usr/bin/env node
import { statSync } from 'node:fs';

// The one-file bundle (scripts/bundle-cli.mjs, made by `npm run build`) starts decode faster; a
// bundle older than the last tsc output is stale and ignored.
const dist = new URL('../dist/cli/', import.meta.url);
const fresh = (() => {
  try {
    return statSync(new URL('main.bundle.js', dist)).mtimeMs >= statSync(new URL('main.js', dist)).mtimeMs;
  } catch {
    return false;
  }
})();
await import(fresh ? '../dist/cli/main.bundle.js' : '../dist/cli/main.js');
