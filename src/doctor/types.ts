/**
 * @module doctor/types
 * The shapes of a doctor report (shared with the admin API, which serves it at /api/doctor)
 * and what every check is handed.
 */
import type { AcmeEngines } from '../runtime/acme.ts';
import type { ServerSettings } from '../runtime/settings.ts';

export type DoctorStatus = 'pass' | 'warn' | 'fail' | 'skip';

export interface DoctorCheck {
  /** Stable: the check's kind, and `:NAME` for checks made once per domain (`dns-address:app.example.com`). */
  id: string;
  status: DoctorStatus;
  title: string;
  /** What was found, in the operator's words. */
  detail: string;
  /** What to do; null when there is nothing to do. */
  fix: string | null;
}

export interface DoctorReport {
  /** No check failed (warnings and skips are ok). */
  ok: boolean;
  checks: DoctorCheck[];
}

/** The lookups the DNS checks make: node:dns/promises' Resolver has them. */
export interface DnsLookup {
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
  resolveCaa(name: string): Promise<Array<{ critical: number; issue?: string; issuewild?: string; iodef?: string }>>;
}

export interface DoctorOptions {
  /** The DNS resolver (default: a node:dns Resolver on the system's servers, or on `dnsServers`). */
  resolver?: DnsLookup;
  /** DNS servers for the default resolver (`127.0.0.1:8053`); ignored with `resolver`. */
  dnsServers?: string[];
  /** This host's addresses, compared with each domain's A/AAAA (default: every interface's). */
  hostAddresses?: string[];
  /**
   * CA certificates (PEM) trusted when the probes talk HTTPS to this host's listeners (default:
   * Node's roots and this data directory's local CA).
   */
  ca?: string[];
  clock?: () => Date;
  /** Also run a real authorization for this name against the CA (never a certificate). */
  dryRunIssue?: string;
  /** Run only the checks whose id (before any `:NAME`) is listed. */
  only?: string[];
  /** Per network step (default 5,000 ms). */
  timeoutMs?: number;
  /** The environment the DNS hook runs with (dry run with dns-01). */
  hookEnv?: Record<string, string | undefined>;
}

/** What each check is given: the settings, the engines of the data directory, the options filled in. */
export interface DoctorContext {
  settings: ServerSettings;
  engines: AcmeEngines;
  resolver: DnsLookup;
  hostAddresses: string[];
  ca: string[];
  clock: () => Date;
  timeoutMs: number;
  /** Whether public names are obtained over ACME (production mode and the terms agreed). */
  acme: boolean;
  /** The registered names: the main domain first, then the custom domains. */
  domains: string[];
  /** Where the probes connect: the listen host, or loopback when it listens on every address. */
  probeHost: string;
  /** The HTTPS port certgate listens on itself (null: TLS ends at a load balancer, or off). */
  httpsPort: number | null;
  httpPort: number | null;
  /** Warnings from building the engines (a placeholder email, a challenge left out). */
  warnings: string[];
  hookEnv: Record<string, string | undefined>;
}

export function check(id: string, status: DoctorStatus, title: string, detail: string, fix: string | null = null): DoctorCheck {
  return { id, status, title, detail, fix };
}
