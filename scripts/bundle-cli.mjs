#!/usr/bin/env node
/**
 * After `tsc`: bundles the CLI entry with the `decode` command into one CommonJS file,
 * dist/cli/main.bundle.cjs, because Node 20's ESM loader spends more on resolving and loading
 * twenty-odd small modules, and on wrapping each builtin they import in an ES module facade, than
 * decode spends decoding (bench/decode). Everything else stays outside the bundle and is loaded
 * from dist/ as before: packages and the other commands (their `import('./commands/x.js')` stays
 * relative, so it resolves next to the bundle). errors.js is inlined: CertgateError's
 * `instanceof` recognises both copies by a registered symbol. bin/certgate.js uses the bundle only
 * when it is newer than dist/cli/main.js (not stale).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  console.error('bundle-cli: esbuild not installed; bin/certgate.js uses dist/cli/main.js (slower start)');
  process.exit(0);
}
await esbuild.build({
  entryPoints: [join(root, 'dist', 'cli', 'main.js')],
  outfile: join(root, 'dist', 'cli', 'main.bundle.cjs'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  // CommonJS has no import.meta; the bundle's own file stands in for the module it inlined.
  banner: { js: "const __bundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  define: { 'import.meta.url': '__bundleUrl' },
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
  plugins: [
    {
      name: 'keep-outside',
      setup(build) {
        build.onResolve({ filter: /^\.\/commands\// }, (args) => {
          if (args.path === './commands/decode.js') return undefined;
          // Keep the specifier as the entry's directory sees it (dist/cli/).
          const fromCli = join(dirname(args.importer), args.path);
          const rel = fromCli.startsWith(join(root, 'dist', 'cli'))
            ? `./${fromCli.slice(join(root, 'dist', 'cli').length + 1)}`
            : `../${fromCli.slice(join(root, 'dist').length + 1)}`;
          return { path: rel, external: true };
        });
      },
    },
  ],
});
