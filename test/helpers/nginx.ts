/**
 * nginx from Debian, started for a test as the TLS-terminating load balancer in front of the
 * edge: a temp prefix directory (its own pid, logs and temp paths, so nothing under /var is
 * touched), high ports, stopped by PID in close().
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopper, upOrStop } from './daemons.ts';
import { binaryOf } from './require.ts';

export interface Nginx {
  dir: string;
  close(): Promise<void>;
}

/** Starts nginx with `servers` (the inside of its http block) and waits for `ports` to listen. */
export async function startNginx(servers: (dir: string) => string, ports: number[]): Promise<Nginx> {
  const dir = mkdtempSync(join(tmpdir(), 'certgate-nginx-'));
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `  ${k}_temp_path ${dir}/${k};`).join('\n');
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1;\nerror_log ${dir}/error.log info;\npid ${dir}/nginx.pid;\nevents { worker_connections 256; }\nhttp {\n  access_log off;\n${temp}\n${servers(dir)}\n}\n`,
  );
  const child = spawn(binaryOf('nginx'), ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  const log = () => `${stderr}${existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8').slice(-2000) : ''}`;
  for (const port of ports) await upOrStop(port, child, dir, 10_000, log, '127.0.0.2');
  return { dir, close: stopper(child, dir) };
}
