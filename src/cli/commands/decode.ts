/**
 * @module cli/commands/decode
 * `certgate decode [FILE...|-]`: the certificate decoder.
 */

import { CertgateError } from '../../errors.ts';
import type { Certificate } from '../../pki/certificate.ts';
import { analyzeChain, endEntityIndex, kindOf } from '../../pki/chain.ts';
import type { CertificateRequest } from '../../pki/csr.ts';
import { type Finding, statusOf } from '../../pki/findings.ts';
import type { PrivateKey } from '../../pki/keys.ts';
import { lintCertificate, lintChain, lintCsr } from '../../pki/lint.ts';
import { loadKeystoreReader, looksLikeJks, parseInput } from '../../pki/parse.ts';
import { parse, readInput, readPassword } from '../args.ts';
import { palette } from '../color.ts';
import type { Io } from '../io.ts';
import { ARROW, certificateBlock, csrBlock, findingsBlock, keyBlock } from '../render.ts';

export const usage = 'certgate decode [FILE...|-] [--json] [--password-file FILE]';

export async function decode(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { json: { type: 'boolean' }, 'password-file': { type: 'string' } }, usage);
  const files = positionals.length ? positionals : ['-'];
  const password = await readPassword(io, values['password-file'] as string | undefined);
  const now = new Date();
  const certs: Array<{ cert: Certificate; source: string; alias: string | null }> = [];
  const keys: Array<{ key: PrivateKey; source: string }> = [];
  const csrs: Array<{ csr: CertificateRequest; source: string }> = [];
  for (const file of files) {
    const source = file === '-' ? 'stdin' : file;
    // `prompt` exists only when standard input is a terminal: without a word, decode would seem to hang.
    if (file === '-' && io.prompt) io.err('reading certificates from standard input (paste PEM, end with Ctrl-D)…\n');
    const bytes = await readInput(io, file);
    if (looksLikeJks(bytes)) await loadKeystoreReader();
    const parsed = parseInput(bytes, { source, now, ...(password !== undefined ? { password } : {}) });
    parsed.certificates.forEach((cert, i) => {
      certs.push({ cert, source, alias: parsed.aliases?.[i] ?? null });
    });
    for (const key of parsed.keys) keys.push({ key, source });
    for (const csr of parsed.csrs) csrs.push({ csr, source });
    if (!parsed.certificates.length && !parsed.keys.length && !parsed.csrs.length) {
      // A file of CRLs or public keys only: saying nothing and exiting 0 would look like success.
      throw new CertgateError(
        'E_INPUT_FORMAT',
        `${source} holds ${parsed.skipped.length ? parsed.skipped.join(', ') : 'no block'} that certgate decode reads`,
        'pass a certificate, chain, key, CSR, PKCS#12 or Java keystore',
      );
    }
  }
  const list = certs.map((c) => c.cert);
  // A file may hold the chain in any order: it starts at the end-entity, wherever that is.
  const start = endEntityIndex(list);
  const analysis = analyzeChain(list, start === null ? {} : { start });
  const findings: Finding[] = [];
  list.forEach((c, i) => {
    findings.push(...lintCertificate(c, i, { now, endEntity: i === start }));
  });
  // A bag of CA certificates (a root bundle) is not a chain; lint the shape only from a leaf.
  if (start !== null) findings.push(...lintChain(list, analysis, { context: 'file' }));
  const infos = list.map((c) => ({ ...c.info, kind: kindOf(c, { others: list }) }));
  csrs.forEach(({ csr }, i) => {
    findings.push(...lintCsr(csr.info, i));
  });
  const keyMatches = keys.map(({ key }) => {
    const idx = list.findIndex((c) => c.info.spkiSha256 === key.info.spkiSha256);
    return idx < 0 ? null : idx;
  });
  const keyCsr = keys.map(({ key }) => {
    const idx = csrs.findIndex((c) => c.csr.info.spkiSha256 === key.info.spkiSha256);
    return idx < 0 ? null : idx;
  });
  keys.forEach(({ source }, i) => {
    if (keyMatches[i] === null && keyCsr[i] === null && (list.length || csrs.length)) {
      findings.push({
        code: 'KEY_MISMATCH',
        severity: 'error',
        certificate: null,
        message: `the private key in ${source} belongs to none of the certificates${csrs.length ? ' or requests' : ''} given`,
        fix: 'pair the certificate with the key it was issued for (compare the SPKI pins shown)',
      });
    }
  });
  const status = statusOf(findings);
  if (values.json) {
    io.out(
      `${JSON.stringify(
        {
          status,
          findings,
          certificates: certs.map(({ source, alias }, index) => ({
            index,
            source,
            ...(alias !== null ? { alias } : {}),
            issuedBy: analysis.issuerOf[index] ?? null,
            ...infos[index],
          })),
          keys: keys.map(({ key, source }, i) => ({ source, ...key.info, matchesCertificate: keyMatches[i] ?? null, matchesRequest: keyCsr[i] ?? null })),
          requests: csrs.map(({ csr, source }, index) => ({ index, source, ...csr.info })),
        },
        null,
        2,
      )}\n`,
    );
  } else {
    const p = palette(io);
    let s = '';
    certs.forEach(({ source }, i) => {
      if (i > 0) s += analysis.issuerOf[i - 1] === i ? ARROW : '\n';
      const where = [files.length > 1 ? source : null, certs[i]?.alias ? `alias "${certs[i]?.alias}"` : null].filter(Boolean).join(', ');
      s += certificateBlock(infos[i] as (typeof infos)[number], i, p, now, where ? `  (${where})` : '');
    });
    csrs.forEach(({ csr, source }, i) => {
      s += `${s ? '\n' : ''}${csrBlock(csr.info, i, p, files.length > 1 ? `  (${source})` : '')}`;
    });
    keys.forEach(({ key, source }, i) => {
      s += `\n${keyBlock(key.info, keyMatches[i] ?? null, source, p, keyCsr[i] ?? null)}`;
    });
    if (findings.length) s += `\n${findingsBlock(findings, p)}`;
    io.out(s);
  }
  return status === 'fail' ? 1 : 0;
}
