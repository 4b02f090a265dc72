// A real git server over HTTP for tests: git's own `git http-backend` (the smart HTTP protocol, as
// GitHub speaks it) behind a loopback Node server that, like github.com for an App's installation
// token, accepts only `Authorization: Basic base64(x-access-token:<token>)` and answers 401
// otherwise. Records each request's method, path and whether it was authorised.
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, basename } from 'node:path';

export interface GitHttpServer {
  /** the clone URL of the repository */
  url: string;
  requests: Array<{ method: string; path: string; authorized: boolean }>;
  stop(): Promise<void>;
}

/** Serves the bare repository `bare` at http://127.0.0.1:PORT/<name>, pushes and fetches, for `token` only. */
export async function startGitHttp(bare: string, token: string): Promise<GitHttpServer> {
  const expected = `Basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}`;
  const requests: GitHttpServer['requests'] = [];
  const server = createServer((req, res) => void serve(req, res).catch((e: unknown) => {
    res.writeHead(500).end(String(e));
  }));

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const authorized = req.headers.authorization === expected;
    requests.push({ method: req.method ?? 'GET', path: url.pathname + url.search, authorized });
    if (!authorized) {
      req.resume();
      res.writeHead(401, { 'www-authenticate': 'Basic realm="GitHub"' }).end();
      return;
    }
    // git http-backend is a CGI program (see git-http-backend(1)).
    const child = spawn('git', ['http-backend'], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin', GIT_PROJECT_ROOT: dirname(bare), GIT_HTTP_EXPORT_ALL: '1', REMOTE_USER: 'x-access-token',
        REQUEST_METHOD: req.method ?? 'GET', PATH_INFO: url.pathname, QUERY_STRING: url.search.replace(/^\?/, ''),
        CONTENT_TYPE: req.headers['content-type'] ?? '', ...(req.headers['content-length'] ? { CONTENT_LENGTH: req.headers['content-length'] } : {}),
        ...(req.headers['content-encoding'] ? { HTTP_CONTENT_ENCODING: req.headers['content-encoding'] } : {}),
        ...(req.headers['git-protocol'] ? { GIT_PROTOCOL: String(req.headers['git-protocol']) } : {}),
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    req.pipe(child.stdin);
    const out: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise<void>((resolve) => child.on('close', () => resolve()));
    const all = Buffer.concat(out);
    const split = all.indexOf('\r\n\r\n');
    const head = all.subarray(0, split < 0 ? 0 : split).toString('latin1').split('\r\n').filter(Boolean);
    const headers: Record<string, string> = {};
    let status = 200;
    for (const line of head) {
      const [k, ...v] = line.split(':');
      if (k!.toLowerCase() === 'status') status = Number(v.join(':').trim().split(' ')[0]);
      else headers[k!] = v.join(':').trim();
    }
    if (split < 0) {
      res.writeHead(500).end(stderr);
      return;
    }
    res.writeHead(status, headers).end(all.subarray(split + 4));
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/${basename(bare)}`,
    requests,
    stop: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
