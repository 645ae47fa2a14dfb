/**
 * @module runtime
 * The whole server as one library call: `buildRuntime(settings, { log, onEvent })` returns
 * start / reload / refresh / close. Settings are plain typed data (`ServerSettings`).
 * @example
 * import { buildRuntime } from 'certgate/runtime';
 * const rt = await buildRuntime({ ...mySettings, upstream: 'http://127.0.0.1:3000' }, { onEvent: (e) => console.log(e.type) });
 * await rt.start();
 */
export { type AcmeDeps, type AcmeEngines, createAcmeEngines } from './acme.ts';
export { buildRuntime, edgeSettings, type Runtime, type RuntimeOptions, workerCount } from './server.ts';
export { type AcmeSettings, RELOADABLE, type ServerSettings } from './settings.ts';
