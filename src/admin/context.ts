/**
 * @module admin/context
 * What the admin API works on, handed in by the runtime: the repository, the domain registry,
 * the manager (null without ACME), the data directory's trust and resource folders, and the
 * providers the layers above own (settings with their sources, reload, doctor, metrics).
 */
import type { Logger } from '../log.ts';
import type { CertManager } from '../manager/manager.ts';
import type { DomainRegistry } from '../manager/registry.ts';
import type { Repository } from '../store/repository.ts';
import type { StateCache } from './certificates.ts';

export interface DoctorReportLike {
  ok: boolean;
  checks: Array<{ id: string; status: string; title: string; detail: string; fix: string | null }>;
}

export interface MetricsLike {
  contentType: string;
  text(): Promise<string>;
}

export interface SettingsView {
  /** Each setting's effective value and where it came from (`default`, `file ...`, `CERTGATE_X`, `--flag`). */
  settings: Record<string, { value: unknown; source: string }>;
}

export interface AdminProviders {
  /** The effective settings and their sources (the CLI knows the sources). */
  settings?: () => Promise<SettingsView>;
  /** Resolves the settings again and applies them (SIGHUP's path); returns what needs a restart. */
  reload?: () => Promise<{ restart: string[] }>;
  doctor?: () => Promise<DoctorReportLike>;
  metrics?: MetricsLike;
  /** The nodes sharing a PostgreSQL store (cluster status); absent on the filesystem store. */
  cluster?: () => Promise<ClusterLike>;
}

export interface ClusterLike {
  nodes: Array<{ id: string; version: string; host: string; pid: number; startedAt: string; heartbeatAt: string; ageSeconds: number; stale: boolean }>;
  versions: string[];
  mixedVersions: boolean;
}

export interface AdminContext extends AdminProviders {
  store: Repository;
  registry: DomainRegistry;
  manager: CertManager | null;
  allowIp: boolean;
  dirs: { caCerts: string; resources: string };
  env: Record<string, string | undefined>;
  log: Logger;
  /** The running settings, when no provider says more. */
  current: () => Record<string, unknown>;
  /** Serves these names' stored certificates from the next handshake on. */
  refresh: (names: string[]) => Promise<void>;
  /** Per-name state kept fresh by the event path (made by startAdmin when not given). */
  states?: StateCache;
}
