/**
 * @module listen
 * Listening on a port, with the errors an operator meets said plainly: the port is taken, or
 * a port under 1024 needs privileges.
 */
import type { Server } from 'node:net';
import { CertgateError } from './errors.ts';

export function listenOn(server: Server, port: number, host: string | undefined, what: string): Promise<number> {
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
      } else reject(err);
    });
    server.listen(port, host, () => resolve((server.address() as { port: number }).port));
  });
}
