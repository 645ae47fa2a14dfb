/**
 * @module cli/render
 * Human output in certigo's manner: one block per certificate, arrows between issuers,
 * expiry in colour, then the findings with their fixes.
 */
import type { CertificateInfo } from '../pki/certificate.ts';
import type { CsrInfo } from '../pki/csr.ts';
import type { Finding } from '../pki/findings.ts';
import type { PrivateKeyInfo } from '../pki/keys.ts';
import type { Palette } from './color.ts';

const KIND: Record<CertificateInfo['kind'], string> = {
  root: 'root CA',
  intermediate: 'intermediate CA',
  leaf: 'leaf',
  'self-signed-leaf': 'self-signed leaf',
};

function row(name: string, value: string): string {
  return `${name.padEnd(11)}${value}\n`;
}

function when(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;
}

export function validity(info: CertificateInfo, p: Palette, now: Date): string {
  const start = Date.parse(info.notBefore);
  const range = `${when(info.notBefore)} → ${when(info.notAfter)} UTC`;
  if (now.getTime() < start) return `${range}  ${p.red('(not yet valid)')}`;
  if (info.daysLeft < 0) return `${range}  ${p.red(`(expired ${-info.daysLeft} days ago)`)}`;
  const left = `(${info.daysLeft} day${info.daysLeft === 1 ? '' : 's'} left)`;
  return `${range}  ${info.daysLeft < 30 ? p.yellow(left) : p.green(left)}`;
}

export function certificateBlock(info: CertificateInfo, index: number, p: Palette, now: Date, extra = ''): string {
  let s = `${p.bold(`** CERTIFICATE #${index} **`)}  ${KIND[info.kind]}${extra}\n`;
  s += row('Subject', info.subject || '(empty)');
  if (info.issuer !== info.subject) s += row('Issuer', info.issuer);
  s += row('Valid', validity(info, p, now));
  const sans = [
    ...info.subjectAltNames.dns.map((n) => `DNS:${n}`),
    ...info.subjectAltNames.ip.map((n) => `IP:${n}`),
    ...info.subjectAltNames.email.map((n) => `email:${n}`),
    ...info.subjectAltNames.uri.map((n) => `URI:${n}`),
  ];
  if (sans.length) s += row('SANs', sans.join(', '));
  const key = `${info.publicKey.algorithm}${info.publicKey.curve ? ` ${info.publicKey.curve}` : info.publicKey.bits ? ` ${info.publicKey.bits}` : ''}`;
  s += row('Key', `${key.padEnd(16)}Signature ${info.signatureAlgorithm}`);
  s += row('Serial', info.serialNumber);
  if (info.basicConstraints)
    s += row(
      'Basic',
      `CA:${info.basicConstraints.ca ? 'TRUE' : 'FALSE'}${info.basicConstraints.pathLength !== null ? `, pathlen:${info.basicConstraints.pathLength}` : ''}`,
    );
  const usage = [info.keyUsage?.join(', '), info.extendedKeyUsage?.join(', ')].filter(Boolean).join('; ');
  if (usage) s += row('Usage', usage);
  if (info.subjectKeyId) s += row('SKI', info.subjectKeyId);
  if (info.authorityKeyId && info.authorityKeyId !== info.subjectKeyId) s += row('AKI', info.authorityKeyId);
  const aia = [...info.authorityInfoAccess.ocsp.map((u) => `OCSP ${u}`), ...info.authorityInfoAccess.caIssuers.map((u) => `CA Issuers ${u}`)];
  if (aia.length) s += row('AIA', aia.join(', '));
  if (info.crlDistributionPoints.length) s += row('CRL', info.crlDistributionPoints.join(', '));
  if (info.sctCount) s += row('SCTs', `${info.sctCount} embedded${info.mustStaple ? ', must-staple' : ''}`);
  s += row('SHA-256', info.fingerprints.sha256);
  s += row('SHA-1', info.fingerprints.sha1);
  s += row('SPKI pin', `sha256//${info.spkiSha256}`);
  return s;
}

export function csrBlock(info: CsrInfo, index: number, p: Palette, extra = ''): string {
  let s = `${p.bold(`** CERTIFICATE REQUEST #${index} **`)}  PKCS#10${extra}\n`;
  s += row('Subject', info.subject || '(empty)');
  const sans = [
    ...info.subjectAltNames.dns.map((n) => `DNS:${n}`),
    ...info.subjectAltNames.ip.map((n) => `IP:${n}`),
    ...info.subjectAltNames.email.map((n) => `email:${n}`),
    ...info.subjectAltNames.uri.map((n) => `URI:${n}`),
  ];
  s += row('SANs', sans.length ? sans.join(', ') : p.yellow('(none requested)'));
  const key = `${info.publicKey.algorithm}${info.publicKey.curve ? ` ${info.publicKey.curve}` : info.publicKey.bits ? ` ${info.publicKey.bits}` : ''}`;
  s += row('Key', `${key.padEnd(16)}Signature ${info.signatureAlgorithm}`);
  s += row(
    'Signed',
    info.signatureValid === null ? p.yellow('not checked (algorithm)') : info.signatureValid ? p.green('valid (by the key it carries)') : p.red('INVALID'),
  );
  if (info.basicConstraints)
    s += row(
      'Basic',
      `CA:${info.basicConstraints.ca ? 'TRUE' : 'FALSE'}${info.basicConstraints.pathLength !== null ? `, pathlen:${info.basicConstraints.pathLength}` : ''}`,
    );
  const usage = [info.keyUsage?.join(', '), info.extendedKeyUsage?.join(', ')].filter(Boolean).join('; ');
  if (usage) s += row('Usage', usage);
  if (info.extensions.length) s += row('Requested', info.extensions.map((e) => `${e.name}${e.critical ? ' (critical)' : ''}`).join(', '));
  if (info.challengePassword) s += row('Attributes', 'challengePassword (value not shown)');
  s += row('SPKI pin', `sha256//${info.spkiSha256}`);
  return s;
}

export function keyBlock(info: PrivateKeyInfo, matches: number | null, source: string, p: Palette, request: number | null = null): string {
  const key = `${info.algorithm}${info.curve ? ` ${info.curve}` : info.bits ? ` ${info.bits}` : ''}`;
  const match =
    matches !== null
      ? p.green(`matches certificate #${matches}`)
      : request !== null
        ? p.green(`matches request #${request}`)
        : p.yellow('matches no certificate given');
  return `${p.bold('** PRIVATE KEY **')}  ${key} (${info.container}) in ${source}: ${match}\n${row('SPKI pin', `sha256//${info.spkiSha256}`)}`;
}

export function findingsBlock(findings: readonly Finding[], p: Palette): string {
  let s = '';
  for (const f of findings) {
    const mark = f.severity === 'error' ? p.red('✗') : f.severity === 'warning' ? p.yellow('!') : p.dim('i');
    s += `${mark} ${f.code}  ${f.message}\n  fix: ${f.fix}\n`;
  }
  return s;
}

export const ARROW = '   ↓ issued by\n';
