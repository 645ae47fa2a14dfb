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
else
  import('../dist/cli/main.js').catch((err) => {
    // A checkout that was never built (or a dist/ removed since): one line with the fix, exit 2.
    if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !String(err.url ?? err.message).includes('/dist/cli/main.js')) throw err;
    process.stderr.write('error E_NOT_BUILT: certgate is not built (no dist/cli/main.js)\n  fix: run `npm run build` in its directory (npm install runs it)\n');
    process.exitCode = 2;
  });
