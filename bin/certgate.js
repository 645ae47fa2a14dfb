#!/usr/bin/env node
// CommonJS (bin/package.json): an ES module entry starts Node's ESM loader and wraps every
// builtin it imports in a facade, which costs `decode` more than decoding does (bench/decode).
const { statSync } = require('node:fs');
const { join } = require('node:path');

// The one-file bundle (scripts/bundle-cli.mjs, made by `npm run build`) holds the entry and
// `decode`; a bundle older than the last tsc output is stale and ignored.
const dist = join(__dirname, '..', 'dist', 'cli');
const fresh = (() => {
  try {
    return statSync(join(dist, 'main.bundle.cjs')).mtimeMs >= statSync(join(dist, 'main.js')).mtimeMs;
  } catch {
    return false;
  }
})();
if (fresh) require(join(dist, 'main.bundle.cjs'));
else import('../dist/cli/main.js');
