// Bare mirrors of release repositories for `modelship serve`: one bare repository per GitHub
// repository, fetched (never checked out) with the GitHub App's installation token. The token
// travels in an Authorization header set through git's environment configuration
// (GIT_CONFIG_COUNT/KEY/VALUE, git >= 2.31): never in the URL, on the command line or on disk.

import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { git } from './run.js';

/** Where the bare mirror of `owner/repo` lives under `mirrorDir` (the checker's and the agent's one mirror). */
export function mirrorPath(mirrorDir: string, repo: { owner: string; repo: string }): string {
  return join(mirrorDir, repo.owner, `${repo.repo}.git`);
}

/** One fetch at a time per mirror (in this process): concurrent fetches into one repository race for ref locks. */
const fetching = new Map<string, Promise<unknown>>();

/**
 * Creates the mirror if needed and fetches `refspecs` into it, after any fetch into the same mirror
 * that is under way (the checker's evaluations and the agent's reconciles share one mirror).
 */
export async function updateMirror(dir: string, url: string, refspecs: string[], token?: string, signal?: AbortSignal): Promise<void> {
  const previous = fetching.get(dir) ?? Promise.resolve();
  const next = previous.catch(() => undefined).then(async () => {
    await ensureBareRepository(dir);
    await fetchIntoMirror(dir, url, refspecs, token, signal);
  });
  fetching.set(dir, next);
  try {
    await next;
  } finally {
    if (fetching.get(dir) === next) fetching.delete(dir);
  }
}

/** Creates the bare repository at `dir` unless it is there. */
export async function ensureBareRepository(dir: string): Promise<void> {
  if (existsSync(`${dir}/HEAD`)) return;
  mkdirSync(dir, { recursive: true });
  await git(dir, ['init', '--quiet', '--bare'], `create the mirror ${dir}`);
}

/**
 * Fetches `refspecs` from `url` into the bare repository at `dir` (forced: a pull request's head
 * may be rewritten). `token` is sent as GitHub's `x-access-token` basic credential.
 */
export async function fetchIntoMirror(dir: string, url: string, refspecs: string[], token?: string, signal?: AbortSignal): Promise<void> {
  const env = gitEnvironment(token);
  await git(dir, ['fetch', '--quiet', '--no-tags', '--no-write-fetch-head', '--end-of-options', url, ...refspecs.map((r) => `+${r}`)],
    `fetch ${refspecs.join(', ')} into the mirror`, { env, configFromEnv: true, ...(signal ? { signal } : {}), hint: 'check that the GitHub App is installed on the repository with contents: read' });
}

/**
 * The environment for a git that talks to GitHub: what git needs from this process's environment
 * (the path, a home, proxies and CA files) and nothing else (no stray GIT_DIR redirects it, no
 * EDITOR or pager is honoured, no prompt), plus `token` as GitHub's `x-access-token` basic
 * credential in an http.extraHeader given through GIT_CONFIG_* (run git with configFromEnv).
 */
export function gitEnvironment(token?: string): Record<string, string> {
  const passed = /^(PATH|HOME|LANG|LC_ALL|TMPDIR|HTTPS?_PROXY|NO_PROXY|https?_proxy|no_proxy|SSL_CERT_FILE|SSL_CERT_DIR)$/;
  const env: Record<string, string> = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && passed.test(e[0])));
  env.GIT_TERMINAL_PROMPT = '0';
  if (token) {
    Object.assign(env, {
      GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'http.extraHeader',
      GIT_CONFIG_VALUE_0: `Authorization: Basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}`,
    });
  }
  return env;
}
