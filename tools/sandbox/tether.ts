// Child servers that die with the process that started them, however it ends. A test process
// killed by tap's timeout (SIGKILL) runs no teardown and no 'exit' handler, so a server it spawned
// directly (s3rver, Prometheus) would live on. Here the server is started by a small Node process,
// the tether, that holds a pipe from us: when that pipe closes — our process is gone, for whatever
// reason — the tether kills the server and exits. SIGTERM and SIGINT sent to the tether are passed
// on to the server, and the tether exits as the server does.

import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';

const tether = `
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const [command, ...args] = process.argv.slice(1);
const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
fs.writeSync(3, String(child.pid) + '\\n');
const kill = () => { try { child.kill('SIGKILL'); } catch {} process.exit(1); };
process.stdin.on('end', kill);
process.stdin.on('error', kill);
process.stdin.resume();
for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => child.kill(s));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
child.on('error', (e) => { process.stderr.write(String(e && e.message) + '\\n'); process.exit(127); });
`;

export interface TetheredProcess {
  /** the tether: signal it (SIGTERM) to stop the server; its 'exit' is the server's */
  process: ChildProcess;
  /** the server's own pid (for SIGSTOP / SIGCONT) */
  pid: Promise<number>;
}

/** Spawns `command args` on a tether; `stdout`/`stderr` as in spawn's stdio ('pipe', 'ignore', 'inherit'). */
export function spawnTethered(command: string, args: string[], options: { stdout?: 'pipe' | 'ignore'; stderr?: 'pipe' | 'ignore'; env?: NodeJS.ProcessEnv; cwd?: string } = {}): TetheredProcess {
  const stdio: StdioOptions = ['pipe', options.stdout ?? 'pipe', options.stderr ?? 'pipe', 'pipe'];
  const child = spawn(process.execPath, ['-e', tether, command, ...args], { stdio, ...(options.env ? { env: options.env } : {}), ...(options.cwd ? { cwd: options.cwd } : {}) });
  const pid = new Promise<number>((resolve, reject) => {
    let text = '';
    const fd3 = child.stdio[3] as NodeJS.ReadableStream;
    fd3.on('data', (d: Buffer) => {
      text += d.toString();
      if (text.includes('\n')) resolve(Number(text.trim()));
    });
    child.once('exit', () => reject(new Error(`${command} exited before it started`)));
  });
  pid.catch(() => undefined);
  // The pipe must not keep our process alive; it only has to close when we go.
  (child.stdin as unknown as { unref?: () => void }).unref?.();
  return { process: child, pid };
}
