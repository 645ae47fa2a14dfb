// A bare Node https server holding many names (the floor of any multi-name Node server): an
// SNICallback answering from a Map of prebuilt secure contexts, the no-SNI default another name's,
// and "ok" answered by the server itself. Args: names.json port (names.json: [{name, cert, key}],
// the first entry is the default).
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { createSecureContext } from 'node:tls';

const [file, port] = process.argv.slice(2);
const names = JSON.parse(readFileSync(file, 'utf8'));
const contexts = new Map(names.map((n) => [n.name, createSecureContext({ cert: n.cert, key: n.key })]));
const server = createServer({ cert: names[0].cert, key: names[0].key, SNICallback: (name, cb) => cb(null, contexts.get(name.toLowerCase())) }, (_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '3' });
  res.end('ok\n');
});
server.keepAliveTimeout = 60_000;
server.listen(Number(port), '127.0.0.1', () => process.stdout.write('ready\n'));
process.on('SIGINT', () => process.exit(0));
