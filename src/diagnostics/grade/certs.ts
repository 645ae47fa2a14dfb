/**
 * @module diagnostics/grade/certs
 * The chain as sent, judged as scanners judge it: signatures, key sizes per OpenSSL security
 * level, the leaf's own extensions, expiry against its lifetime, order, extras and gaps.
 */
import type { Certificate } from '../../pki/certificate.ts';
import { analyzeChain } from '../../pki/chain.ts';
import type { GradeFinding } from './findings.ts';

const DAY = 86_400_000;

function who(c: Certificate, i: number): string {
  return `#${i} "${c.info.subjectCommonName ?? c.info.subject}"`;
}

/** The lowest OpenSSL security level that refuses this key, or null when level 3 accepts it. */
function refusedAtLevel(algorithm: string, bits: number): 1 | 2 | 3 | null {
  const rsaLike = algorithm === 'RSA' || algorithm === 'RSA-PSS' || algorithm === 'DSA';
  if (rsaLike) return bits < 1024 ? 1 : bits < 2048 ? 2 : bits < 3072 ? 3 : null;
  if (algorithm === 'ECDSA') return bits < 160 ? 1 : bits < 224 ? 2 : bits < 256 ? 3 : null;
  return null;
}

export interface CertCheckOptions {
  now: Date;
  /** The name clients ask for (for the expiry and SAN wording). */
  name: string;
  /** True when a trusted root issued this certificate: tells "root not sent" (fine) from "intermediate missing". */
  issuerTrusted: (last: Certificate) => boolean;
  /** The suite negotiated uses RSA key exchange (the leaf then needs keyEncipherment). */
  rsaKeyExchange: boolean;
}

export function gradeChain(chain: readonly Certificate[], options: CertCheckOptions): GradeFinding[] {
  const out: GradeFinding[] = [];
  if (chain.length === 0) return out;
  const analysis = analyzeChain(chain);
  chain.forEach((c, i) => {
    const selfSigned = c.info.selfSigned;
    // A root's own signature is never checked by clients; the ones they check count.
    if (!(selfSigned && i > 0)) {
      if (/md5|md2/i.test(c.info.signatureAlgorithm))
        out.push({
          code: 'GRADE_SIGNATURE_MD5',
          severity: 'error',
          certificate: i,
          what: `certificate ${who(c, i)} is signed with ${c.info.signatureAlgorithm}; MD5 signatures are forgeable and every client refuses them`,
          fix: 'reissue it signed with SHA-256',
        });
      else if (/sha1/i.test(c.info.signatureAlgorithm))
        out.push({
          code: 'GRADE_SIGNATURE_SHA1',
          severity: 'error',
          certificate: i,
          what: `certificate ${who(c, i)} is signed with ${c.info.signatureAlgorithm}; browsers and OpenSSL 3 at security level 1 and up refuse SHA-1 signatures`,
          fix: 'reissue it signed with SHA-256 (openssl x509/req -sha256; every public CA does this by default)',
        });
    }
    const pk = c.info.publicKey;
    const level = pk.bits !== null ? refusedAtLevel(pk.algorithm, pk.bits) : null;
    if (level !== null && level <= 2)
      out.push({
        code: 'GRADE_KEY_TOO_SMALL',
        severity: 'error',
        certificate: i,
        what: `certificate ${who(c, i)} has a ${pk.bits}-bit ${pk.algorithm} key; OpenSSL refuses it from security level ${level} (${level === 1 ? "Node's default" : "Debian's and RHEL's curl and Python"}) up`,
        fix: pk.algorithm === 'ECDSA' ? 'reissue it with a P-256 or P-384 key' : 'reissue it with an RSA 2048+ (3072 for security level 3) or ECDSA P-256 key',
      });
  });

  const leaf = chain[0] as Certificate;
  const info = leaf.info;
  if (!info.basicConstraints?.ca) {
    if (info.subjectAltNames.dns.length + info.subjectAltNames.ip.length === 0)
      out.push({
        code: 'GRADE_CERT_NO_SAN',
        severity: 'error',
        certificate: 0,
        what: `certificate ${who(leaf, 0)} has no subjectAltName; browsers, Go, Python and curl ignore the CN and reject it`,
        fix: `reissue it with subjectAltName DNS:${options.name} (openssl req -addext "subjectAltName=DNS:${options.name}")`,
      });
  } else if (!info.selfSigned) {
    out.push({
      code: 'GRADE_CERT_LEAF_IS_CA',
      severity: 'warning',
      certificate: 0,
      what: `the server's certificate ${who(leaf, 0)} says CA:TRUE; a server certificate that can sign others is refused by strict clients and flagged by scanners`,
      fix: 'reissue it with basicConstraints CA:FALSE',
    });
  }
  if (info.extendedKeyUsage && !info.extendedKeyUsage.some((u) => /serverAuth|1\.3\.6\.1\.5\.5\.7\.3\.1|anyExtendedKeyUsage/i.test(u)))
    out.push({
      code: 'GRADE_CERT_NO_SERVER_AUTH',
      severity: 'error',
      certificate: 0,
      what: `certificate ${who(leaf, 0)} has extendedKeyUsage ${info.extendedKeyUsage.join(', ')} without serverAuth; TLS clients refuse it for a server`,
      fix: 'reissue it with extendedKeyUsage serverAuth',
    });
  if (info.keyUsage) {
    const ku = info.keyUsage.map((u) => u.toLowerCase());
    const has = (n: string) => ku.includes(n.toLowerCase());
    if (info.publicKey.algorithm === 'ECDSA' || info.publicKey.algorithm === 'Ed25519') {
      if (!has('digitalSignature'))
        out.push({
          code: 'GRADE_CERT_KEY_USAGE',
          severity: 'error',
          certificate: 0,
          what: `certificate ${who(leaf, 0)} has an ${info.publicKey.algorithm} key but keyUsage ${info.keyUsage.join(', ')} without digitalSignature; the key cannot sign the handshake`,
          fix: 'reissue it with keyUsage digitalSignature',
        });
      else if (has('keyEncipherment'))
        out.push({
          code: 'GRADE_CERT_KEY_USAGE',
          severity: 'warning',
          certificate: 0,
          what: `certificate ${who(leaf, 0)} has an ${info.publicKey.algorithm} key with keyUsage keyEncipherment, which an EC key cannot do; strict clients and linters flag it`,
          fix: 'reissue it with keyUsage digitalSignature only',
        });
    } else if (info.publicKey.algorithm === 'RSA') {
      if (!has('digitalSignature'))
        out.push({
          code: 'GRADE_CERT_KEY_USAGE',
          severity: options.rsaKeyExchange ? 'warning' : 'error',
          certificate: 0,
          what: `certificate ${who(leaf, 0)} has keyUsage ${info.keyUsage.join(', ')} without digitalSignature; ECDHE and TLS 1.3 handshakes need it, so only RSA key exchange works`,
          fix: 'reissue it with keyUsage digitalSignature, keyEncipherment',
        });
      else if (options.rsaKeyExchange && !has('keyEncipherment'))
        out.push({
          code: 'GRADE_CERT_KEY_USAGE',
          severity: 'warning',
          certificate: 0,
          what: `certificate ${who(leaf, 0)} lacks keyUsage keyEncipherment but the server negotiates RSA key exchange, which needs it`,
          fix: 'reissue it with keyUsage digitalSignature, keyEncipherment, or turn off RSA key exchange suites',
        });
    }
  }
  const notBefore = Date.parse(info.notBefore);
  const notAfter = Date.parse(info.notAfter);
  const left = notAfter - options.now.getTime();
  const lifetime = notAfter - notBefore;
  if (left <= 0)
    out.push({
      code: 'GRADE_CERT_EXPIRED',
      severity: 'error',
      certificate: 0,
      what: `certificate ${who(leaf, 0)} expired on ${info.notAfter.slice(0, 10)}`,
      fix: 'renew it and reload the server; with certgate serving it, renewal is automatic',
    });
  else if (lifetime > 0 && left < lifetime / 3)
    out.push({
      code: 'GRADE_CERT_EXPIRING',
      severity: 'warning',
      certificate: 0,
      what: `certificate ${who(leaf, 0)} has ${Math.floor(left / DAY)} of its ${Math.round(lifetime / DAY)} days left (under a third of its lifetime, when ACME clients renew)`,
      fix: 'renew it now and find out why automatic renewal did not run (certgate renew --dry-run shows the plan)',
    });

  if (analysis.wrongOrder)
    out.push({
      code: 'GRADE_CHAIN_WRONG_ORDER',
      severity: 'warning',
      certificate: null,
      what: `the server sends its chain out of order (path ${analysis.path.map((i) => `#${i}`).join(' → ')}); TLS 1.2 and strict clients need each certificate followed by its issuer`,
      fix: 'write the certificate file in order: the server certificate first, then each issuer (fullchain.pem order)',
    });
  for (const i of analysis.extra) {
    const c = chain[i] as Certificate;
    out.push({
      code: 'GRADE_CHAIN_EXTRA_CERT',
      severity: 'warning',
      certificate: i,
      what: `the server sends ${who(c, i)}, which is not on the path of its certificate; it costs bytes and confuses clients that build paths in order`,
      fix: 'remove it from the certificate file',
    });
  }
  const lastIndex = analysis.path[analysis.path.length - 1] as number;
  const last = chain[lastIndex] as Certificate;
  if (analysis.path.length > 1 && analysis.endsInSelfSigned)
    out.push({
      code: 'GRADE_CHAIN_ROOT_SENT',
      severity: 'info',
      certificate: lastIndex,
      what: `the server sends the root ${who(last, lastIndex)}; clients use their own copy, so it only adds bytes to every handshake`,
      fix: 'leave the root out of the certificate file (fullchain.pem without the last certificate)',
    });
  if (!analysis.endsInSelfSigned && !options.issuerTrusted(last))
    out.push({
      code: 'GRADE_CHAIN_INCOMPLETE',
      severity: 'error',
      certificate: lastIndex,
      what: `the chain ends at ${who(last, lastIndex)}, whose issuer "${analysis.missingIssuer?.commonName ?? last.info.issuer}" the server does not send and the trust store does not hold; browsers may fetch it, curl, Python, Go and Node fail`,
      fix: 'serve the full chain: the certificate followed by the intermediate(s), e.g. fullchain.pem, not cert.pem',
    });
  return out;
}
