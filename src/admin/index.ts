/**
 * @module admin
 * The admin API and dashboard on their own listener. The runtime starts it from
 * `settings.adminListen` / `adminTls`; an embedder passes the providers it owns.
 * @example
 * import { buildRuntime } from 'certgate/runtime';
 * const rt = await buildRuntime({ ...mySettings, adminListen: '127.0.0.1:2020', adminTls: 'off' }, {
 *   admin: { doctor: () => runDoctor(mySettings), metrics },
 * });
 * await rt.start(); // rt.adminUrl: 'http://127.0.0.1:2020'
 */
export type { AdminContext, AdminProviders, DoctorReportLike, MetricsLike, SettingsView } from './context.ts';
export { type AdminAddress, DEFAULT_ADMIN_LISTEN, parseAdminListen } from './listen.ts';
export { type AdminServer, type AdminServerOptions, MAX_BODY_BYTES, startAdmin } from './server.ts';
export { AdminTokens, TOKEN_PREFIX, type TokenInfo } from './tokens.ts';
