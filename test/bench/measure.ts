// Runs commands as child processes and times them: wall time from spawn to exit, and the child's
// peak RSS (from GNU time's ru_maxrss when installed, else by polling /proc/<pid>/status VmHWM).

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

export interface Measured {
  wallMs: number;
  /** the child's peak resident set size, when asked for */
  peakRssBytes?: number;
  /** the child's user + system CPU seconds (all its threads), when peak RSS was asked for and GNU time is installed */
  cpuSeconds?: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface MeasureOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** capture the child's peak RSS */
  peakRss?: boolean;
}

/** GNU time, if it is installed and understands -v/-o (BusyBox and the shell builtin do not). */
export const gnuTime: string | undefined = (() => {
  if (!existsSync('/usr/bin/time')) return undefined;
  const r = spawnSync('/usr/bin/time', ['--version'], { encoding: 'utf8' });
  return /GNU time/i.test(`${r.stdout}${r.stderr}`) ? '/usr/bin/time' : undefined;
})();

/** How peak RSS is measured on this machine, for the report. */
export const peakRssMethod = gnuTime ? 'GNU time -v (ru_maxrss)' : '/proc/<pid>/status VmHWM, polled';

/** Runs `command args` to completion and measures it. Never throws on a non-zero exit. */
export async function measure(command: string, args: string[], options: MeasureOptions = {}): Promise<Measured> {
  if (options.peakRss && gnuTime) return measureWithGnuTime(command, args, options);
  let peak = 0;
  const result = await run(command, args, options, (pid) => {
    if (!options.peakRss) return () => {};
    const poll = () => (peak = Math.max(peak, vmHwm(pid) ?? 0));
    const timer = setInterval(poll, 20);
    return () => clearInterval(timer);
  });
  return options.peakRss ? { ...result, peakRssBytes: peak } : result;
}

async function measureWithGnuTime(command: string, args: string[], options: MeasureOptions): Promise<Measured> {
  const dir = mkdtempSync(join(tmpdir(), 'modelship-bench-time-'));
  const report = join(dir, 'time.txt');
  try {
    const result = await run(gnuTime!, ['-v', '-o', report, command, ...args], options, () => () => {});
    const text = readFileSync(report, 'utf8');
    const kib = /Maximum resident set size \(kbytes\): (\d+)/.exec(text);
    const user = /User time \(seconds\): ([\d.]+)/.exec(text);
    const system = /System time \(seconds\): ([\d.]+)/.exec(text);
    return {
      ...result,
      ...(kib ? { peakRssBytes: Number(kib[1]) * 1024 } : {}),
      ...(user && system ? { cpuSeconds: Number(user[1]) + Number(system[1]) } : {}),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function run(command: string, args: string[], options: MeasureOptions, watch: (pid: number) => () => void): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const stop = child.pid ? watch(child.pid) : () => {};
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e) => {
      stop();
      reject(e);
    });
    child.on('close', (code) => {
      const wallMs = performance.now() - started;
      stop();
      resolve({ wallMs, code, stdout, stderr });
    });
  });
}

function vmHwm(pid: number): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined; // the process has exited between two polls; the last reading stands
  }
}

/** Runs `fn` `times` times, one after another. */
export async function repeat<T>(times: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < times; i++) out.push(await fn(i));
  return out;
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Throws with the command's output when it did not exit 0. */
export function expectSuccess(what: string, m: Measured): Measured {
  if (m.code !== 0) throw new Error(`${what} exited with ${m.code}\n${m.stdout}${m.stderr}`);
  return m;
}

/** Whether `name` is on PATH; its `--version` line when it is. */
export function commandVersion(name: string): string | undefined {
  const r = spawnSync(name, ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  return `${r.stdout}${r.stderr}`.trim().split('\n')[0];
}

/** Flushes dirty pages, so one measurement's write-back does not land in the next one's time. */
export function flushDisks(): void {
  spawnSync('sync');
}

/** The environment for child processes: the machine's, without ambient AWS/GitHub/modelship settings. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(AWS_|GITHUB_|GH_|MODELSHIP_|SOURCE_DATE_EPOCH$)/.test(k)) env[k] = v;
  }
  return { ...env, ...extra };
}
