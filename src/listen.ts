/**
 * @module listen
 * Listening on a port, with the errors an operator meets said plainly: the port is taken, a
 * port under 1024 needs privileges, the address is not this machine's, the name does not
 * resolve.
 */
import { isIP, type Server } from 'node:net';
import { CertgateError } from './errors.ts';

const HOSTNAME = /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/i;

/**
 * Checks a listen address before anything listens: an IP literal, or a host name that could
 * resolve. `999.999.999.999` looks like an address and is not one.
 * @example checkListenHost('0.0.0.0', 'listen.host')
 */
export function checkListenHost(host: string, what = 'the listen address'): void {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  if (isIP(bare)) return;
  if (/^[\d.]+$/.test(bare) || !HOSTNAME.test(bare)) {
    throw new CertgateError(
      'E_LISTEN',
      `${what} "${bare.slice(0, 64)}" is neither an IP address nor a host name`,
      'use an address of this machine (0.0.0.0 or :: for all, 127.0.0.1 for local only) or a name that resolves to one',
    );
  }
}

export function listenOn(server: Server, port: number, host: string | undefined, what: string): Promise<number> {
  if (host !== undefined) checkListenHost(host, `the address for ${what}`);
  const where = host ? `${host}:${port}` : `port ${port}`;
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') {
        reject(
          new CertgateError(
            'E_PORT_IN_USE',
            `port ${port} (${what}) is in use`,
            `stop what listens there (ss -ltnp 'sport = :${port}'), or choose another port`,
          ),
        );
      } else if (err.code === 'EACCES') {
        reject(
          new CertgateError(
            'E_PORT_IN_USE',
            `no permission to listen on port ${port} (${what})`,
            'run as root, grant CAP_NET_BIND_SERVICE (setcap), or use a port above 1024',
          ),
        );
      } else if (err.code === 'EADDRNOTAVAIL') {
        reject(
          new CertgateError(
            'E_LISTEN',
            `cannot listen on ${where} (${what}): ${host} is not an address of this machine`,
            'use one of its addresses (ip -brief address), or 0.0.0.0 / :: for all of them',
            { cause: err },
          ),
        );
      } else if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN' || err.code === 'EAI_FAIL') {
        reject(
          new CertgateError(
            'E_LISTEN',
            `cannot listen on ${where} (${what}): the name ${host} does not resolve`,
            'use an IP address of this machine, or fix the name in DNS / /etc/hosts',
            {
              cause: err,
            },
          ),
        );
      } else reject(err);
    });
    server.listen(port, host, () => resolve((server.address() as { port: number }).port));
  });
}
