/**
 * @module profiles/mongo
 * What MongoDB's driver errors mean. The seeds' lesson: an external MongoDB that "fails TLS"
 * is often a replica set that was never initiated or a user without readWrite/clusterMonitor.
 */

export interface Classified {
  layer: 'tls' | 'auth' | 'topology' | 'tcp' | 'dns';
  code: string;
  message: string;
  fix: string;
}

interface MongoLikeError {
  name?: string;
  code?: number | string;
  codeName?: string;
  message?: string;
  errmsg?: string;
  reason?: { type?: string; servers?: Map<string, { error?: { message?: string; code?: string; cause?: { code?: string; message?: string } } | null }> };
  cause?: { code?: string; message?: string };
}

function innerErrors(err: MongoLikeError): string {
  const parts: string[] = [err.message ?? ''];
  if (err.cause) parts.push(`${err.cause.code ?? ''} ${err.cause.message ?? ''}`);
  for (const s of err.reason?.servers?.values() ?? []) {
    const e = s?.error;
    if (e) parts.push(`${e.code ?? ''} ${e.message ?? ''} ${e.cause?.code ?? ''} ${e.cause?.message ?? ''}`);
  }
  return parts.join(' | ');
}

export function classifyMongoError(err: unknown): Classified {
  const e = (err ?? {}) as MongoLikeError;
  const text = innerErrors(e);
  const code = typeof e.code === 'number' ? e.code : undefined;
  if (code === 94 || e.codeName === 'NotYetInitialized' || /no replset config|not yet initialized|NotYetInitialized/i.test(text)) {
    return {
      layer: 'topology',
      code: 'MONGO_REPLSET_NOT_INITIATED',
      message: 'the MongoDB replica set is not initiated: there is no primary to talk to (this is not a certificate problem)',
      fix: 'run rs.initiate() as an admin user in the MongoDB shell, then check rs.status()',
    };
  }
  if (code === 18 || e.codeName === 'AuthenticationFailed' || /Authentication failed/i.test(text)) {
    return {
      layer: 'auth',
      code: 'MONGO_AUTH_FAILED',
      message: 'MongoDB refused the user name or password',
      fix: 'check the user, the password reference and the authSource (usually admin)',
    };
  }
  if (code === 13 || e.codeName === 'Unauthorized' || /not authorized on/i.test(text)) {
    return {
      layer: 'auth',
      code: 'MONGO_ROLES_MISSING',
      message: `the user lacks a role this connection needs (${(e.errmsg ?? e.message ?? '').slice(0, 120)})`,
      fix: 'grant the user readWrite on its database and clusterMonitor on admin: db.grantRolesToUser(USER, [{role:"readWrite",db:DB},{role:"clusterMonitor",db:"admin"}])',
    };
  }
  if (/ReplicaSetNoPrimary/.test(e.reason?.type ?? '') || /no primary|not primary|NotWritablePrimary/i.test(text)) {
    return {
      layer: 'topology',
      code: 'MONGO_NO_PRIMARY',
      message: 'the replica set has no primary right now',
      fix: 'check rs.status(); a majority of members must be up to elect a primary',
    };
  }
  if (/CERT|certificate|SSL|TLS|self[- ]signed|unable to verify|altnames|ERR_TLS|EPROTO/i.test(text)) {
    return {
      layer: 'tls',
      code: 'MONGO_TLS_FAILED',
      message: `TLS to MongoDB failed: ${text.replace(/\s+\|\s+$/, '').slice(0, 200)}`,
      fix: 'run certgate resources test on this resource for the TLS layer; add the issuing CA to ca-certs or pin the server certificate',
    };
  }
  if (/ECONNREFUSED/.test(text))
    return { layer: 'tcp', code: 'MONGO_UNREACHABLE', message: 'nothing listens on the MongoDB port', fix: 'check host and port, and that mongod runs' };
  if (/ENOTFOUND|EAI_AGAIN/.test(text))
    return { layer: 'dns', code: 'MONGO_DNS', message: 'the MongoDB host name does not resolve', fix: 'check the host name' };
  if (e.name === 'MongoServerSelectionError') {
    return {
      layer: 'topology',
      code: 'MONGO_SERVER_SELECTION',
      message: `no suitable MongoDB server was found: ${text.slice(0, 200)}`,
      fix: 'check that the deployment is up and, for a replica set, initiated (rs.status())',
    };
  }
  return { layer: 'auth', code: 'MONGO_ERROR', message: `MongoDB: ${text.slice(0, 200)}`, fix: 'see the MongoDB server log' };
}

/** Required roles for a platform's connection, as in the seeds. */
export function missingMongoRoles(roles: ReadonlyArray<{ role: string; db: string }>, database: string): string[] {
  const has = (role: string, db: string) =>
    roles.some((r) => (r.role === role && r.db === db) || r.role === 'root' || (r.role === `${role}AnyDatabase` && r.db === 'admin'));
  const missing: string[] = [];
  if (!has('readWrite', database) && !has('dbOwner', database)) missing.push(`readWrite on ${database}`);
  if (!has('clusterMonitor', 'admin') && !has('clusterAdmin', 'admin')) missing.push('clusterMonitor on admin');
  return missing;
}
