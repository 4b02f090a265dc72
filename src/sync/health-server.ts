// What the sync watch loop exposes on --listen: /healthz (200 while the last iteration worked,
// 503 with its error otherwise) and /state (the loop's state as JSON).

import { createServer, type Server } from 'node:http';
import type { WatchState } from './watch.js';

/** Listens on `host:port` (or a bare port on 127.0.0.1) and answers from `state` as it changes. */
export function serveState(listen: string, state: WatchState): Promise<Server> {
  const at = listen.lastIndexOf(':');
  const host = at > 0 ? listen.slice(0, at) : '127.0.0.1';
  const port = Number(at > 0 ? listen.slice(at + 1) : listen);
  return new Promise((resolve, reject) => {
    const server = createServer((req, res) => {
      const healthy = state.lastError === undefined;
      if (req.url === '/healthz') {
        res.writeHead(healthy ? 200 : 503, { 'content-type': 'text/plain' }).end(healthy ? 'ok\n' : `${state.lastError}\n`);
      } else if (req.url === '/state') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(state, null, 2));
      } else {
        res.writeHead(404).end();
      }
    });
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
