/**
 * @module trust
 * The trust store (Node's roots + ca-certs, hot reloaded) and its exports for other runtimes.
 */
export { bundlePem, envVariables, exportBundle, type LeftOut, unexpired, writeEnvFiles, writeOpensslDir } from './export.ts';
export { loadCaDir, type TrustEntry, type TrustProblem } from './load.ts';
export { addToDir, fileNameFor, listDir, removeFromDir } from './manage.ts';
export { createTrustStore, type TrustSet, type TrustStore, type TrustStoreOptions } from './store.ts';
export { type Judgement, judge, pickIssuingCa } from './validate.ts';
