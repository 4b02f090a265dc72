// Runs modelship commands for tests. `runCli` runs the built program (dist/program.js) inside the
// test process (tools/sandbox/modelship.ts): the same argument parsing, commands and exit codes as
// the binary, without paying a Node start-up and the client libraries' load time per call.
// `spawnCli` runs dist/cli.js as a child process, as a user does: for the few end-to-end tests
// that need a real process (exit by signal, the bin itself, a crash).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runModelship } from '../../tools/sandbox/modelship.js';

export const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
}

/** Variables of the machine that must not reach a command under test: ambient AWS/GitHub settings, tap's instrumentation. */
const ambient = /^(AWS_|GITHUB_|GH_|MODELSHIP_|SOURCE_DATE_EPOCH$|NODE_OPTIONS$|_TAPJS_|NODE_V8_COVERAGE$)/;

/** Environment for child processes: no ambient AWS/GitHub settings leak in from the machine. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    // Nor tap's own instrumentation (NODE_OPTIONS=--import @tapjs/processinfo, coverage): the CLI
    // runs as a user runs it, and starts in half the time.
    if (!ambient.test(k)) env[k] = v;
  }
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

/** `modelship <args>` in this process (see tools/sandbox/modelship.ts), its environment cleanEnv(env), in `cwd`. */
export async function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const r = await runModelship(args, { env: cleanEnv(options.env), cwd: options.cwd ?? projectRoot });
  return { ...r, signal: null };
}

/** `modelship <args>` as a child process (dist/cli.js); `onSpawn` gets its pid (to kill it). */
export function spawnCli(args: string[], options: CliOptions & { onSpawn?: (pid: number) => void } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: options.cwd ?? projectRoot, env: cleanEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    if (child.pid && options.onSpawn) options.onSpawn(child.pid);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}
