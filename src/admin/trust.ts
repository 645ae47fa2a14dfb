/**
 * @module admin/trust
 * The ca-certs store through the admin API: an upload judged exactly as `trust add` judges
 * files (a leaf is refused with "pin it on the resource instead"; a file with a private key is
 * refused whole and nothing is stored), and each stored file listed with its verdict.
 */
import { CertgateError } from '../errors.ts';
import { parseInput } from '../pki/parse.ts';
import { loadCaDir } from '../trust/load.ts';
import { addToDir, removeFromDir } from '../trust/manage.ts';
import { judge } from '../trust/validate.ts';

export interface TrustVerdict {
  file: string | null;
  subject: string;
  sha256: string;
  kind: string;
  notAfter: string;
  verdict: 'added' | 'would-add' | 'skipped' | 'refused' | 'trusted' | 'expired' | 'leaf' | 'unreadable';
  code: string;
  reason: string;
  fix: string | null;
  warnings: string[];
}

export interface UploadResult {
  added: number;
  verdicts: TrustVerdict[];
}

/** Judges (and unless `dryRun`, adds) the certificates of one uploaded file. */
export async function uploadTrust(dir: string, bytes: Buffer, source: string, options: { dryRun?: boolean } = {}): Promise<UploadResult> {
  const parsed = parseInput(bytes, { source });
  if (parsed.keys.length)
    throw new CertgateError(
      'E_TRUST_KEY',
      `${source} holds a private key; nothing was stored (a key never belongs in a trust store, and it is now worth replacing: it left its owner)`,
      'upload only the CA certificate (the -----BEGIN CERTIFICATE----- block); keep the key where it was',
    );
  if (!parsed.certificates.length)
    throw new CertgateError('E_TRUST_NOTHING', `${source} holds no certificate`, 'upload a CA certificate as PEM, DER or PKCS#7');
  const existing = (await loadCaDir(dir)).entries.map((e) => e.cert);
  const judged = judge(
    parsed.certificates.map((cert) => ({ cert, source })),
    { existing, systemRoots: true },
  );
  const toAdd = judged.filter((j) => j.action === 'add');
  const files =
    toAdd.length && !options.dryRun
      ? await addToDir(
          dir,
          toAdd.map((j) => j.cert),
        )
      : [];
  let n = 0;
  const verdicts = judged.map((j): TrustVerdict => {
    const file = j.action === 'add' && !options.dryRun ? (files[n++] ?? null) : null;
    const leaf = j.code === 'E_TRUST_LEAF';
    return {
      file,
      subject: j.cert.info.subject,
      sha256: j.cert.info.fingerprints.sha256,
      kind: j.cert.info.kind,
      notAfter: j.cert.info.notAfter,
      verdict: j.action === 'add' ? (options.dryRun ? 'would-add' : 'added') : j.action === 'skip' ? 'skipped' : 'refused',
      code: j.code,
      // The dashboard's words for the commonest mistake (T2/T4 in the design).
      reason: leaf ? `this is a leaf: pin it on the resource instead. ${j.reason}` : j.reason,
      fix: j.fix,
      warnings: j.warnings,
    };
  });
  return { added: files.length, verdicts };
}

/** Every file in ca-certs, each certificate with its verdict, and the files that could not be read. */
export async function listTrust(dir: string, now = new Date()): Promise<{ dir: string; entries: TrustVerdict[] }> {
  const { entries, problems } = await loadCaDir(dir, now);
  const out: TrustVerdict[] = entries.map((e) => {
    const i = e.cert.info;
    const expired = Date.parse(i.notAfter) < now.getTime();
    const leaf = i.kind === 'leaf';
    return {
      file: e.file,
      subject: i.subject,
      sha256: i.fingerprints.sha256,
      kind: i.kind,
      notAfter: i.notAfter,
      verdict: expired ? 'expired' : leaf ? 'leaf' : 'trusted',
      code: expired ? 'E_TRUST_EXPIRED' : leaf ? 'E_TRUST_LEAF' : 'OK',
      reason: expired
        ? `expired on ${i.notAfter.slice(0, 10)}: it verifies nothing`
        : leaf
          ? "this is a leaf (a server's own certificate): pin it on the resource instead"
          : `${i.kind === 'root' ? 'a root' : 'an intermediate'} CA, trusted until ${i.notAfter.slice(0, 10)}`,
      fix: expired ? 'remove it, and add the current CA certificate' : leaf ? 'remove it here and pin it on the resource that connects to that server' : null,
      warnings: [],
    };
  });
  for (const p of problems)
    out.push({
      file: p.file,
      subject: '',
      sha256: '',
      kind: 'unknown',
      notAfter: '',
      verdict: 'unreadable',
      code: p.code,
      reason: p.message,
      fix: p.fix,
      warnings: [],
    });
  return { dir, entries: out };
}

export async function removeTrust(dir: string, selector: string): Promise<string[]> {
  return (await removeFromDir(dir, selector)).map((e) => e.file);
}
