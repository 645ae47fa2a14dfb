/**
 * A maintenance scan over N stored certificates (generated index entries in a filesystem
 * store): time to decide what is due, and the process's memory. Run by bench/acme/run.ts.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Maintainer } from '../../src/maintenance/maintainer.ts';
import type { CertManager } from '../../src/manager/manager.ts';
import { FsStore } from '../../src/store/fs.ts';

const n = Number(process.argv[2] ?? 100_000);
const root = mkdtempSync(join(tmpdir(), 'certgate-bench-scan-'));
try {
  mkdirSync(join(root, 'certificates'), { recursive: true });
  const now = Date.now();
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const nb = now - (i % 90) * 86_400_000;
    lines.push(
      JSON.stringify({
        name: `s${i}.example.com`,
        notBefore: new Date(nb).toISOString(),
        notAfter: new Date(nb + 90 * 86_400_000).toISOString(),
        serialNumber: i.toString(16),
        ariStart: null,
        ariEnd: null,
      }),
    );
  }
  writeFileSync(join(root, 'certificates', 'index.log'), `${lines.join('\n')}\n`);
  lines.length = 0;
  global.gc?.();
  const m = new Maintainer({ store: new FsStore({ root }), manager: {} as CertManager });
  const t0 = performance.now();
  const { entries, due } = await m.scan();
  const ms = performance.now() - t0;
  const rss = process.memoryUsage().rss;
  console.log(
    `maintenance scan: ${entries.length} certificates, ${due.length} due, decided in ${ms.toFixed(0)} ms (target < 2000 ms); process RSS ${(rss / 1048576).toFixed(0)} MB (target < 300 MB)`,
  );
} finally {
  rmSync(root, { recursive: true, force: true });
}
