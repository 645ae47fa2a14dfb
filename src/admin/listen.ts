/**
 * @module admin/listen
 * Where the admin API listens: `host:port`, a Unix socket path, or `off`. A loopback address
 * may be plain HTTP; anything else must be TLS (the admin API can change what the edge serves).
 */
import { isIP } from 'node:net';
import { CertgateError } from '../errors.ts';

export type AdminAddress = { kind: 'off' } | { kind: 'tcp'; host: string; port: number; loopback: boolean } | { kind: 'unix'; path: string };

export const DEFAULT_ADMIN_LISTEN = '127.0.0.1:2020';

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * @example parseAdminListen('127.0.0.1:2020') // { kind: 'tcp', host: '127.0.0.1', port: 2020, loopback: true }
 * @example parseAdminListen('unix:/run/certgate/admin.sock') // { kind: 'unix', path: '/run/certgate/admin.sock' }
 */
export function parseAdminListen(value: string): AdminAddress {
  const v = value.trim();
  if (v === 'off' || v === 'false' || v === 'none') return { kind: 'off' };
  if (v.startsWith('unix:') || v.startsWith('/')) {
    const path = v.startsWith('unix:') ? v.slice(5) : v;
    if (!path.startsWith('/'))
      throw new CertgateError('E_OPTION', `the admin socket "${path.slice(0, 80)}" is not an absolute path`, 'give unix:/run/certgate/admin.sock', {
        option: 'adminListen',
      });
    return { kind: 'unix', path };
  }
  const m = /^(?:\[([0-9a-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/i.exec(v);
  const host = m ? (m[1] ?? m[2] ?? '') : '';
  const port = m ? Number(m[3]) : Number.NaN;
  const hostOk = host && (isIP(host) || /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/i.test(host));
  if (!m || !hostOk || port > 65535)
    throw new CertgateError(
      'E_OPTION',
      `the admin address "${v.slice(0, 80)}" is not HOST:PORT, a unix: socket path or off`,
      'give 127.0.0.1:2020, [::1]:2020, unix:/run/certgate/admin.sock, or off',
      { option: 'adminListen' },
    );
  return { kind: 'tcp', host, port, loopback: isLoopback(host) };
}
