// A bare Node https server (the platform's floor): answers "ok" itself. Args: cert key port.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';

const [cert, key, port] = process.argv.slice(2);
const server = createServer({ cert: readFileSync(cert), key: readFileSync(key) }, (_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '3' });
  res.end('ok\n');
});
server.keepAliveTimeout = 60_000;
server.listen(Number(port), '127.0.0.1', () => process.stdout.write('ready\n'));
// A clean exit on SIGINT, so that `node --cpu-prof` writes its profile (bench/edge/profile.ts --bare).
process.on('SIGINT', () => process.exit(0));
