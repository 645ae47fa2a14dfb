/**
 * @module diagnostics/aia
 * Fetches a missing intermediate from the AIA "CA Issuers" URL (plain HTTP by RFC 5280).
 */
import { request } from 'node:http';
import { CertgateError } from '../errors.ts';
import type { Certificate } from '../pki/certificate.ts';
import { parseCertificates } from '../pki/parse.ts';

const MAX_BYTES = 1024 * 1024;

export async function fetchIssuer(url: string, timeoutMs: number): Promise<Certificate[]> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CertgateError('E_FETCH', `the CA Issuers URL "${url}" is not a URL`, "get the intermediate from the CA's website instead");
  }
  if (parsed.protocol !== 'http:') {
    throw new CertgateError('E_FETCH', `the CA Issuers URL ${url} is not http://`, 'download it by hand and add it to the server chain');
  }
  const body = await new Promise<Buffer>((resolve, reject) => {
    const req = request(parsed, { method: 'GET', timeout: timeoutMs }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new CertgateError('E_FETCH', `GET ${url} answered ${res.statusCode}`, "get the intermediate from the CA's website instead"));
        return;
      }
      const parts: Buffer[] = [];
      let size = 0;
      res.on('data', (d: Buffer) => {
        size += d.length;
        if (size > MAX_BYTES) {
          req.destroy();
          reject(new CertgateError('E_FETCH', `GET ${url} sent more than 1 MiB`, "this is not a certificate; get it from the CA's website"));
          return;
        }
        parts.push(d);
      });
      res.on('end', () => resolve(Buffer.concat(parts)));
    });
    req.on('timeout', () => req.destroy(new CertgateError('E_TIMEOUT', `GET ${url} timed out`, "retry, or get the intermediate from the CA's website")));
    req.on('error', (err) =>
      reject(
        err instanceof CertgateError
          ? err
          : new CertgateError('E_FETCH', `GET ${url} failed: ${err.message}`, "check the network, or get the intermediate from the CA's website", {
              cause: err,
            }),
      ),
    );
    req.end();
  });
  return parseCertificates(body, { source: url });
}
