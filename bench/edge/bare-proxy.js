// The floor of any Node reverse proxy: Node's https server and undici's dispatcher (certgate's
// own pair), each request passed to the app with its headers and X-Forwarded-For, the answer
// streamed back; nothing else (no routing, no header policy, no error pages).
// Args: cert key port upstreamPort [workers]: with workers > 1, as many processes sharing the port
// (node:cluster, the kernel spreading connections, as certgate --workers does).
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { Agent } from 'undici';

const [cert, key, port, upPort, workers = '1'] = process.argv.slice(2);
if (cluster.isPrimary && Number(workers) > 1) {
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  let ready = 0;
  for (let i = 0; i < Number(workers); i++) cluster.fork().on('listening', () => ++ready === Number(workers) && process.stdout.write('ready\n'));
} else serve();

function serve() {
  const origin = `http://127.0.0.1:${upPort}`;
  const agent = new Agent({ connections: 256, pipelining: 1, keepAliveTimeout: 4_000 });
  const server = createServer({ cert: readFileSync(cert), key: readFileSync(key) }, (req, res) => {
    const headers = { ...req.headers, 'x-forwarded-for': req.socket.remoteAddress };
    delete headers.connection;
    agent.dispatch(
      { origin, method: req.method, path: req.url, headers, body: null },
      {
        onRequestStart() {},
        onResponseStart(_c, status, h) {
          // The app's connection headers are about its own connection, not the client's.
          delete h.connection;
          delete h['keep-alive'];
          res.writeHead(status, h);
        },
        onResponseData(_c, chunk) {
          res.write(chunk);
        },
        onResponseEnd() {
          res.end();
        },
        onResponseError() {
          res.destroy();
        },
      },
    );
  });
  server.keepAliveTimeout = 60_000;
  server.listen(Number(port), '127.0.0.1', () => cluster.isWorker || process.stdout.write('ready\n'));
}
process.on('SIGINT', () => process.exit(0));
