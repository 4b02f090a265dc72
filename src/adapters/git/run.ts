// Every git command modelship runs goes through here. One client library (simple-git, loaded on
// first use so commands without git do not pay for it), the exit code for the commands that
// answer with it, binary-safe output, and failures as ExternalError('git', <what was being
// done>, <git's words>). Long-lived streaming processes (`git log` read as it comes, `cat-file
// --batch`) are the one exception: `streamGit` below is the only other place a git process starts.

import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { ExternalError } from '../../errors.js';

type SimpleGitModule = typeof import('simple-git');
let library: Promise<SimpleGitModule> | undefined;

// simple-git strips GIT_* variables from the child's environment unless they are allowed; these
// are the ones modelship sets (a private index) or must respect (identity and dates, in CI and tests).
// GIT_CONFIG_COUNT/KEY_0/VALUE_0 carry the installation token's header to `git fetch` (mirror.ts)
// without putting it on the command line; GIT_TERMINAL_PROMPT=0 keeps a refused fetch from waiting for a password.
const allowEnvironment = ['GIT_CONFIG_COUNT', 'GIT_CONFIG_KEY_0', 'GIT_CONFIG_VALUE_0', 'GIT_TERMINAL_PROMPT', 'GIT_INDEX_FILE', 'GIT_AUTHOR_NAME', 'GIT_AUTHOR_EMAIL', 'GIT_AUTHOR_DATE', 'GIT_COMMITTER_NAME', 'GIT_COMMITTER_EMAIL', 'GIT_COMMITTER_DATE'];

export interface GitOptions {
  /** non-zero exit codes that are an answer, not a failure (`true`: any); the caller reads `code` */
  allowExit?: true | number[];
  /** the child's whole environment (default: this process's, less GIT_* variables simple-git guards) */
  env?: Record<string, string>;
  /** added to the error: what the user can do about it */
  hint?: string;
  signal?: AbortSignal;
  /** lets `env` carry GIT_CONFIG_COUNT/KEY/VALUE (simple-git refuses them unless told): mirror.ts's token header */
  configFromEnv?: true;
}

export interface GitResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** Runs one git command in `root`; `operation` names what it does for the error message. */
export async function git(root: string, args: string[], operation: string, options: GitOptions = {}): Promise<GitResult> {
  const { simpleGit } = await (library ??= import('simple-git'));
  let outcome: { code: number; stdout: Buffer[]; stderr: Buffer[]; rejection?: Error } | undefined;
  const hint = options.hint ? { hint: options.hint } : {};
  try {
    // Every outcome comes to `errors` first: keep the bytes and the exit code, and decide below.
    const client = simpleGit({
      baseDir: root,
      binary: gitBinary(),
      allowEnvironment,
      ...(options.signal ? { abort: options.signal } : {}),
      ...(options.configFromEnv ? { unsafe: { allowUnsafeConfigEnvCount: true } } : {}),
      errors: (error, result) => {
        outcome = { code: result.exitCode, stdout: result.stdOut, stderr: result.stdErr, ...(error instanceof Error ? { rejection: error } : {}) };
        return undefined;
      },
    });
    await (options.env ? client.env(options.env) : client).raw(args);
  } catch (e) {
    throw new ExternalError('git', operation, firstLines((e as Error).message ?? String(e)), { cause: e, ...hint });
  }
  if (!outcome) throw new ExternalError('git', operation, 'git gave no result', hint);
  const stderr = Buffer.concat(outcome.stderr).toString('utf8');
  const stdout = Buffer.concat(outcome.stdout);
  const allowed = outcome.code > 0 && (options.allowExit === true || options.allowExit?.includes(outcome.code));
  if (outcome.rejection && !allowed) {
    throw new ExternalError('git', operation, firstLines(outcome.rejection.message), { cause: outcome.rejection, ...hint });
  }
  if (outcome.code !== 0 && !allowed) {
    throw new ExternalError('git', operation, firstLines(stderr || stdout.toString('utf8')) || `git exited with ${outcome.code}`, hint);
  }
  return { code: outcome.code, stdout, stderr };
}

/** A git command's output as text; any non-zero exit is an ExternalError. */
export async function gitText(root: string, args: string[], operation: string, options: Omit<GitOptions, 'allowExit'> = {}): Promise<string> {
  return (await git(root, args, operation, options)).stdout.toString('utf8');
}

/**
 * git's path, found on PATH as the system would (the first executable file named git), once per
 * value of PATH: started by name, every git process searched PATH itself (~3 ms a start with nine
 * folders, and a check starts some thirty). 'git' when none is found (the start then fails with
 * the system's words), when PATH has an empty or relative entry before it (each command's folder:
 * left to the system), or when the path has characters simple-git refuses in a binary's name.
 */
export function gitBinary(): string {
  const path = process.env.PATH ?? '';
  if (found?.path === path) return found.binary;
  let binary = 'git';
  for (const dir of path.split(delimiter)) {
    if (!dir || !isAbsolute(dir)) break; // an empty or relative entry means each command's cwd: left to the system
    const candidate = join(dir, 'git');
    try {
      accessSync(candidate, constants.X_OK);
      if (!statSync(candidate).isFile()) continue;
    } catch {
      continue;
    }
    if (/^[a-z0-9/._~-]+$/i.test(candidate)) binary = candidate;
    break;
  }
  found = { path, binary };
  return binary;
}
let found: { path: string; binary: string } | undefined;

function firstLines(text: string): string {
  return text.trim().split('\n').slice(0, 3).join(' ');
}

/** A long-lived git process read (and written) as a stream. */
export interface GitStream {
  stdin: Writable;
  stdout: Readable;
  /** resolves when git exits 0; rejects with an ExternalError naming the operation otherwise */
  done: Promise<void>;
  /** ends the process; `done` then rejects, which the caller expects */
  kill(): void;
}

/** Starts git for output too large or too slow to wait for whole (`git log` walks, `cat-file --batch`). */
export function streamGit(root: string, args: string[], operation: string): GitStream {
  const child = spawn(gitBinary(), args, { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', (e) => reject(new ExternalError('git', operation, e.message, { cause: e })));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new ExternalError('git', operation, `git exited with ${code}: ${stderr.trim()}`))));
  });
  return { stdin: child.stdin, stdout: child.stdout, done, kill: () => void child.kill() };
}
