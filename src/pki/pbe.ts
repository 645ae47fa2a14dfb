/**
 * @module pki/pbe
 * Password-based encryption costs, read from the structure before any key is derived. A
 * crafted PKCS#12 or encrypted PKCS#8 can ask for millions of PBKDF iterations and hold the
 * process for seconds per file; certgate refuses counts above MAX_PBE_ITERATIONS instead.
 */
import { CertgateError } from '../errors.ts';
import { children, readOid, readTlv, TAG, type Tlv, value } from './der.ts';

/**
 * The highest iteration count certgate derives a key for. OpenSSL 3 writes 2,048 (pkcs12 and
 * pkcs8), Java's keytool 10,000, Windows 2,000; OWASP's 2023 advice for PBKDF2-SHA256 is
 * 600,000. One million leaves room above all of them and costs about a second in the worst
 * (pure-JS PKCS#12) derivation.
 */
export const MAX_PBE_ITERATIONS = 1_000_000;

const PBES2 = '1.2.840.113549.1.5.13';
const PBKDF2 = '1.2.840.113549.1.5.12';
/** PKCS#12 PBE (pbeWithSHAAnd3-KeyTripleDES-CBC etc., 1.2.840.113549.1.12.1.1-6) and PKCS#5 v1 PBES1. */
const SALT_ITER_PARAMS = /^1\.2\.840\.113549\.1\.(12\.1\.[1-6]|5\.(1|3|4|6|10|11))$/;

/** An INTEGER as a number; Infinity when it is too long to be an honest count. */
function count(tlv: Tlv | undefined): number | null {
  if (!tlv || tlv.tag !== TAG.INTEGER) return null;
  const bytes = value(tlv);
  if (bytes.length > 6) return Number.POSITIVE_INFINITY;
  let n = 0;
  for (const b of bytes) n = n * 256 + b;
  return n;
}

function kids(tlv: Tlv): Tlv[] {
  try {
    return tlv.tag & 0x20 ? children(tlv) : [];
  } catch {
    return [];
  }
}

/** The iteration count an AlgorithmIdentifier asks for, or null when it is not a PBE one. */
function algorithmIterations(alg: Tlv): number | null {
  const [oidTlv, params] = kids(alg);
  if (oidTlv?.tag !== TAG.OID || !params) return null;
  const oid = readOid(oidTlv);
  if (SALT_ITER_PARAMS.test(oid)) return count(kids(params)[1]);
  if (oid === PBES2) {
    const [kdf] = kids(params);
    const [kdfOid, kdfParams] = kdf ? kids(kdf) : [];
    if (kdfOid?.tag === TAG.OID && readOid(kdfOid) === PBKDF2 && kdfParams) return count(kids(kdfParams)[1]);
  }
  return null;
}

/**
 * Every PBE iteration count visible in the DER: algorithm identifiers anywhere in the tree,
 * including inside OCTET STRINGs that hold DER (PKCS#12 wraps its bags that way). Content that
 * is itself encrypted cannot be seen here; readPkcs12 guards the derivations for that.
 */
export function visibleIterations(der: Uint8Array): number[] {
  const out: number[] = [];
  let budget = 100_000; // elements visited: bounded whatever the input
  const walk = (tlv: Tlv, depth: number): void => {
    if (--budget < 0 || depth > 32) return;
    if (tlv.tag === TAG.SEQUENCE) {
      const n = algorithmIterations(tlv);
      if (n !== null) out.push(n);
    }
    if (tlv.tag & 0x20) for (const c of kids(tlv)) walk(c, depth + 1);
    else if (tlv.tag === TAG.OCTET_STRING && tlv.end - tlv.valueStart > 2 && tlv.buf[tlv.valueStart] === TAG.SEQUENCE) {
      try {
        const inner = readTlv(tlv.buf, tlv.valueStart, tlv.end);
        if (inner.end === tlv.end) walk(inner, depth + 1);
      } catch {
        // not DER inside: an ordinary octet string
      }
    }
  };
  try {
    walk(readTlv(der, 0, der.length), 0);
  } catch {
    // the format readers say what is wrong with damaged DER
  }
  return out;
}

export function iterationsError(n: number, what: string): CertgateError {
  return new CertgateError(
    'E_PBE_ITERATIONS',
    `${what} asks for ${Number.isFinite(n) ? n.toLocaleString('en-US') : 'an absurd number of'} key-derivation iterations; certgate allows at most ${MAX_PBE_ITERATIONS.toLocaleString('en-US')}`,
    what.includes('PKCS#12')
      ? 'export it again with the default count: openssl pkcs12 -export -iter 2048 ... (OpenSSL 3 writes 2048)'
      : 'encrypt it again with the default count: openssl pkcs8 -topk8 -v2 aes-256-cbc -iter 2048 ...',
  );
}

/** Throws E_PBE_ITERATIONS when any count visible in `der` is above the cap. */
export function checkIterations(der: Uint8Array, what: string): void {
  const worst = Math.max(0, ...visibleIterations(der));
  if (worst > MAX_PBE_ITERATIONS) throw iterationsError(worst, what);
}
