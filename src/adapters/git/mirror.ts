// Bare mirrors of release repositories for `modelship serve`: one bare repository per GitHub
// repository, fetched (never checked out) with the GitHub App's installation token. The token
// travels in an Authorization header set through git's environment configuration
// (GIT_CONFIG_COUNT/KEY/VALUE, git >= 2.31): never in the URL, on the command line or on disk.

import { existsSync, mkdirSync } from 'node:fs';
import { git } from './run.js';

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
  // What git needs from this process's environment (the path, a home, proxies and CA files), and
  // nothing else: no stray GIT_DIR redirects the fetch, no EDITOR or pager is honoured.
  const passed = /^(PATH|HOME|LANG|LC_ALL|TMPDIR|HTTPS?_PROXY|NO_PROXY|https?_proxy|no_proxy|SSL_CERT_FILE|SSL_CERT_DIR)$/;
  const env: Record<string, string> = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && passed.test(e[0])));
  env.GIT_TERMINAL_PROMPT = '0';
  if (token) {
    Object.assign(env, {
      GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'http.extraHeader',
      GIT_CONFIG_VALUE_0: `Authorization: Basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}`,
    });
  }
  await git(dir, ['fetch', '--quiet', '--no-tags', '--no-write-fetch-head', '--end-of-options', url, ...refspecs.map((r) => `+${r}`)],
    `fetch ${refspecs.join(', ')} into the mirror`, { env, configFromEnv: true, ...(signal ? { signal } : {}), hint: 'check that the GitHub App is installed on the repository with contents: read' });
}
