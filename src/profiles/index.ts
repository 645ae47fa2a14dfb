/**
 * @module profiles
 * Resources and their TLS profiles: schema, driver mappings, the layered connection test.
 */
export { type ResourceClientOptions, type ResourceHandle, resourceClient } from './client.ts';
export { ioredisOptions, mongodbOptions, mongodbUriParams, mysql2Options, pgOptions, stripPgSslParams, tlsOptions, undiciDispatcher } from './drivers.ts';
export { classifyMongoError, missingMongoRoles } from './mongo.ts';
export { getResource, loadResources, parseResourceText, removeResource, saveResource, toYaml } from './registry.ts';
export { type ResolvedTls, resolveTls } from './resolve.ts';
export { DEFAULT_PORT, KINDS, MODES, type Resource, type ResourceKind, type TlsMode, validateResource } from './schema.ts';
export { type LayerResult, type ResourceTestResult, testResource } from './test.ts';
