/**
 * Writes the settings tables into the README from the settings rows (the one source):
 * `npm run docs:settings`. A test fails when the README and the rows disagree.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ACME_ROWS, SERVE_TABLE } from '../src/cli/settings/rows.ts';
import { renderMarkdown } from '../src/cli/settings/table.ts';

export const BLOCKS = {
  serve: () => renderMarkdown(SERVE_TABLE),
  acme: () => renderMarkdown({ config: SERVE_TABLE.config, ...ACME_ROWS }),
};

export function withTables(readme: string): string {
  let out = readme;
  for (const [name, render] of Object.entries(BLOCKS)) {
    const start = `<!-- settings:${name} -->\n`;
    const end = `<!-- /settings:${name} -->`;
    const a = out.indexOf(start);
    const b = out.indexOf(end);
    if (a < 0 || b < a) throw new Error(`README.md has no ${start.trim()} … ${end} block`);
    out = out.slice(0, a + start.length) + render() + out.slice(b);
  }
  return out;
}

if (process.argv[1]?.endsWith('settings-doc.ts')) {
  const file = join(import.meta.dirname, '..', 'README.md');
  writeFileSync(file, withTables(readFileSync(file, 'utf8')));
}
