// A real Prometheus (Debian package) for tests: series written as OpenMetrics, turned into TSDB
// blocks by promtool, served by a prometheus process on a loopback port. The caller must stop() it.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnTethered } from '../../tools/sandbox/tether.js';
import { freePort } from '../helpers/ports.js';

/** The binaries this needs that are not installed; empty when Prometheus can run. */
export function missingBinaries(): string[] {
  return ['prometheus', 'promtool'].filter((bin) => spawnSync(bin, ['--version'], { stdio: 'ignore' }).error);
}

export interface Series { name: string; labels: Record<string, string>; samples: Array<[Date, number]> }

export interface TestPrometheus {
  url: string;
  pid: number;
  /** SIGSTOP: the port stays open but nothing answers (a hung server) */
  freeze(): void;
  thaw(): void;
  stop(): Promise<void>;
}

/** OpenMetrics text: one family after another, samples in time order, timestamps in seconds. */
export function openMetrics(families: Array<{ name: string; type: string; series: Series[] }>): string {
  const lines: string[] = [];
  for (const family of families) {
    lines.push(`# TYPE ${family.name} ${family.type}`);
    for (const s of family.series) {
      const labels = Object.entries(s.labels).map(([k, v]) => `${k}="${v}"`).join(',');
      for (const [at, value] of s.samples) lines.push(`${s.name}{${labels}} ${value} ${at.getTime() / 1000}`);
    }
  }
  return `${lines.join('\n')}\n# EOF\n`;
}

export async function startPrometheus(metrics: string): Promise<TestPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'modelship-prometheus-'));
  const data = join(dir, 'data');
  writeFileSync(join(dir, 'series.om'), metrics);
  // No scrape jobs: the server only serves the blocks made here.
  writeFileSync(join(dir, 'prometheus.yml'), 'global:\n  scrape_interval: 1m\n');
  const made = spawnSync('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', join(dir, 'series.om'), data], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`promtool create-blocks-from failed: ${made.stderr || made.stdout}`);

  const port = await freePort();
  // Tethered: the server dies with this process, even when a test runner kills it without a teardown.
  const tethered = spawnTethered('prometheus', [
    `--storage.tsdb.path=${data}`, `--web.listen-address=127.0.0.1:${port}`, `--config.file=${join(dir, 'prometheus.yml')}`,
    '--storage.tsdb.retention.time=30d', '--log.level=warn',
  ], { stdout: 'ignore', stderr: 'pipe' });
  const child = tethered.process;
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => { stderr += b.toString(); });
  const pid = await tethered.pid.catch((e: Error) => { throw new Error(`${e.message}: ${stderr}`); });

  const url = `http://127.0.0.1:${port}`;
  const server: TestPrometheus = {
    url,
    pid,
    freeze: () => { process.kill(pid, 'SIGSTOP'); },
    thaw: () => { process.kill(pid, 'SIGCONT'); },
    stop: async () => {
      await stopProcess(child, pid);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await waitReady(url, child, () => stderr);
  } catch (e) {
    await server.stop();
    throw e;
  }
  return server;
}

async function waitReady(url: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}: ${stderr()}`);
    const ready = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false);
    if (ready) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`prometheus not ready after 15 s: ${stderr()}`);
}

async function stopProcess(child: ChildProcess, pid: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try { process.kill(pid, 'SIGCONT'); } catch { /* already gone */ } // a frozen process cannot act on SIGTERM
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

