/**
 * @module profiles/registry
 * Resource files in the data directory: `resources/NAME.yaml` (or .yml / .json). Written
 * atomically; read with precise errors naming the file and field.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import YAML from 'yaml';
import { CertgateError, type ErrorCode } from '../errors.ts';
import { atomicWrite, writeError } from '../fsutil.ts';
import { readLimited } from '../input.ts';
import { parseDoc } from '../text/parse-doc.ts';
import { type Resource, validateResource } from './schema.ts';

const EXT = /\.(ya?ml|json)$/i;

export interface RegistryProblem {
  file: string;
  code: string;
  message: string;
  fix: string;
  /** The resource name at fault, when the file parsed (a name used by two files). */
  name?: string;
}

export function parseResourceText(text: string, file: string, fallbackName: string): Resource {
  return validateResource(parseDoc(text, { source: file, code: 'E_RESOURCE_INVALID' }), file, fallbackName);
}

function duplicate(name: string, files: readonly string[]): CertgateError {
  const shown = files.map((f) => `resources/${f}`);
  return new CertgateError(
    'E_RESOURCE_DUPLICATE',
    `the resource name "${name}" is used by ${shown.slice(0, -1).join(', ')} and ${shown.at(-1)}; none of them is used`,
    `keep one: delete the other file(s), or change their name: field`,
  );
}

export async function loadResources(dir: string): Promise<{ resources: Resource[]; problems: RegistryProblem[]; files: Map<string, string> }> {
  await recoverImports(dir);
  let names: string[] = [];
  try {
    names = (await readdir(dir)).filter((n) => EXT.test(n) && !n.startsWith('.')).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new CertgateError('E_FILE_READ', `cannot read ${dir}: ${(err as Error).message}`, 'check the data directory permissions');
  }
  const loaded: Array<{ resource: Resource; file: string }> = [];
  const problems: RegistryProblem[] = [];
  const byName = new Map<string, string[]>();
  for (const file of names) {
    try {
      const r = parseResourceText(
        (await readLimited(join(dir, file), { name: `resources/${file}` })).toString('utf8'),
        `resources/${file}`,
        file.replace(EXT, ''),
      );
      loaded.push({ resource: r, file });
      byName.set(r.name, [...(byName.get(r.name) ?? []), file]);
    } catch (err) {
      const e = err as CertgateError;
      problems.push({ file, code: e.code ?? 'E_RESOURCE_INVALID', message: e.message, fix: e.fix ?? 'fix the file' });
    }
  }
  // Two files with one name: whichever sorts first would win, silently. Neither does.
  const resources: Resource[] = [];
  const files = new Map<string, string>();
  for (const [name, owners] of byName) {
    if (owners.length < 2) continue;
    const e = duplicate(name, owners);
    problems.push({ file: owners.join(', '), code: e.code, message: e.message, fix: e.fix as string, name });
  }
  for (const { resource, file } of loaded) {
    if ((byName.get(resource.name)?.length ?? 0) > 1) continue;
    files.set(resource.name, file);
    resources.push(resource);
  }
  return { resources, problems, files };
}

export async function getResource(dir: string, name: string): Promise<Resource> {
  const { resources, problems } = await loadResources(dir);
  const found = resources.find((r) => r.name === name);
  if (found) return found;
  const broken = problems.find((p) => p.name === name) ?? problems.find((p) => p.file.replace(EXT, '') === name);
  if (broken) throw new CertgateError(broken.code as ErrorCode, broken.message, broken.fix);
  throw new CertgateError(
    'E_RESOURCE_NOT_FOUND',
    `no resource named "${name}" in ${dir}`,
    `run certgate resources list, or add it: certgate resources add ${name} --kind KIND --host HOST`,
  );
}

/** The resource as it is stored: only fields that were given, in a stable order. */
export function toDocument(r: Resource): Record<string, unknown> {
  const doc: Record<string, unknown> = { name: r.name, kind: r.kind };
  if (r.url) doc.url = r.url;
  else {
    doc.host = r.host;
    doc.port = r.port;
  }
  for (const key of ['database', 'user', 'password', 'replicaSet'] as const) if (r[key] !== undefined) doc[key] = r[key];
  const tls: Record<string, unknown> = { mode: r.tls.mode };
  for (const key of ['servername', 'ca', 'pinnedCert', 'pins', 'clientCert', 'clientKey', 'clientKeyPassphrase'] as const)
    if (r.tls[key] !== undefined) tls[key] = r.tls[key];
  if (r.tls.useTrustStore === false) tls.useTrustStore = false;
  doc.tls = tls;
  return doc;
}

export function toYaml(r: Resource): string {
  return `# certgate resource: safe to commit (CA and pins inline, secrets by reference)\n${YAML.stringify(toDocument(r), { lineWidth: 0 })}`;
}

export async function saveResource(dir: string, r: Resource, options: { replace?: boolean } = {}): Promise<string> {
  const { resources, problems } = await loadResources(dir);
  if (!options.replace && (resources.some((x) => x.name === r.name) || problems.some((p) => p.name === r.name))) {
    throw new CertgateError('E_RESOURCE_EXISTS', `a resource named "${r.name}" exists already`, 'pick another name, or pass --replace');
  }
  // Round-trip through the validator: what is written must read back the same.
  const text = toYaml(r);
  parseResourceText(text, `resources/${r.name}.yaml`, r.name);
  const path = join(dir, `${r.name}.yaml`);
  await atomicWrite(path, text);
  for (const other of ['yml', 'json']) await rm(join(dir, `${r.name}.${other}`), { force: true });
  return path;
}

export async function removeResource(dir: string, name: string): Promise<void> {
  await getResource(dir, name);
  const { files } = await loadResources(dir);
  const file = files.get(name);
  if (file) await rm(join(dir, file), { force: true });
}

const STAGE = /^\.import-[0-9a-f]+$/;
const COMMIT = 'COMMIT';

async function syncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Moves a staged import into place; safe to repeat after a crash (a file already moved is skipped). */
async function commitStage(dir: string, stage: string): Promise<void> {
  const names = (await readFile(join(stage, COMMIT), 'utf8')).split('\n').filter(Boolean);
  for (const name of names) {
    await rename(join(stage, `${name}.yaml`), join(dir, `${name}.yaml`)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    for (const other of ['yml', 'json']) await rm(join(dir, `${name}.${other}`), { force: true });
  }
  await syncPath(dir);
  await rm(stage, { recursive: true, force: true });
}

/**
 * Finishes or undoes an import a crash interrupted: a stage with its COMMIT marker was
 * complete and is moved into place; one without it is removed. Either way, all or nothing.
 */
async function recoverImports(dir: string): Promise<void> {
  const stages = (await readdir(dir).catch(() => [] as string[])).filter((n) => STAGE.test(n));
  for (const name of stages) {
    const stage = join(dir, name);
    const committed = await readFile(join(stage, COMMIT), 'utf8').then(
      () => true,
      () => false,
    );
    if (committed) await commitStage(dir, stage).catch(() => {});
    else await rm(stage, { recursive: true, force: true }).catch(() => {});
  }
}

/**
 * Writes many resources all or nothing: each is validated, staged in a hidden directory and
 * synced, then a COMMIT marker makes the batch real and the files are renamed into place.
 * One listing and one directory sync for the batch, not one per resource.
 */
export async function saveResources(dir: string, resources: readonly Resource[]): Promise<string[]> {
  const texts = resources.map((r) => {
    const text = toYaml(r);
    parseResourceText(text, `resources/${r.name}.yaml`, r.name);
    return text;
  });
  const stage = join(dir, `.import-${randomBytes(6).toString('hex')}`);
  try {
    await mkdir(stage, { recursive: true });
    // Parallel writes and syncs: the disk batches them.
    const queue = resources.map((r, i) => [r.name, texts[i] as string] as const);
    const worker = async () => {
      for (let item = queue.shift(); item; item = queue.shift()) {
        const fh = await open(join(stage, `${item[0]}.yaml`), 'wx', 0o644);
        try {
          await fh.writeFile(item[1]);
          await fh.sync();
        } finally {
          await fh.close();
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    await atomicWrite(join(stage, COMMIT), `${resources.map((r) => r.name).join('\n')}\n`);
  } catch (err) {
    await rm(stage, { recursive: true, force: true }).catch(() => {});
    throw writeError(err, dir);
  }
  try {
    await commitStage(dir, stage);
  } catch (err) {
    // Committed: the next load finishes the move.
    throw writeError(err, dir);
  }
  return resources.map((r) => join(dir, `${r.name}.yaml`));
}
