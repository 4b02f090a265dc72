// modelship as a GitHub App: the App's identity (id, slug) and a client per installation, with
// installation access tokens minted from the App's private key and refreshed before they expire
// by @octokit/app (@octokit/auth-app underneath: a JWT for the App, one token per installation,
// cached until a few minutes before its hour is up).

import { App } from '@octokit/app';
import { Octokit } from '@octokit/rest';
import { ExternalError } from '../../errors.js';
import type { GitHubClient, RepoRef } from './client.js';

export interface AppCredentials {
  appId: number;
  /** PEM (PKCS#8 or PKCS#1) */
  privateKey: string;
  /** https://api.github.com by default */
  baseUrl?: string;
  timeoutMs?: number;
}

export interface Installation {
  /** the REST client acting as the installation (its bot, `<slug>[bot]`) */
  client: GitHubClient;
  /** a current installation token, for git over HTTPS (cached; minted again when near expiry) */
  token(): Promise<string>;
}

export interface GitHubApp {
  id: number;
  slug: string;
  /** the client for an installation (from a webhook's `installation.id`) */
  installation(installationId: number): Promise<Installation>;
  /**
   * The App's installation on a repository and where to clone it from, without a webhook (the
   * agent's periodic resync): GET /repos/{owner}/{repo}/installation as the App, then
   * GET /repos/{owner}/{repo} as that installation.
   */
  repository(repo: RepoRef): Promise<RepositoryInstallation>;
}

export interface RepositoryInstallation {
  installationId: number;
  cloneUrl: string;
  defaultBranch: string;
}

const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

/** Authenticates as the App (GET /app): fails early on a wrong id or key. */
export async function connectApp(c: AppCredentials): Promise<GitHubApp> {
  const timeout = c.timeoutMs ?? 30_000;
  const Client = Octokit.defaults({
    baseUrl: c.baseUrl ?? 'https://api.github.com',
    userAgent: 'modelship',
    request: { fetch: (url: string | URL, init?: RequestInit) => fetch(url, { ...init, signal: init?.signal ?? AbortSignal.timeout(timeout) }) },
  });
  // @octokit/app is typed against @octokit/core's Octokit; @octokit/rest's extends it.
  const app = new App({ appId: c.appId, privateKey: c.privateKey, Octokit: Client as unknown as typeof import('@octokit/core').Octokit, log: quiet });
  let slug: string;
  try {
    const me = await app.octokit.request('GET /app');
    slug = (me.data as { slug?: string } | null)?.slug ?? '';
  } catch (e) {
    const status = (e as { status?: number }).status;
    throw new ExternalError('github', `authenticate as GitHub App ${c.appId}`, (e as Error).message, {
      cause: e, retryable: status === undefined || status >= 500, ...(status ? { status } : {}),
      hint: 'check the App id and that the private key is the App\'s (Settings → Developer settings → GitHub Apps)',
    });
  }
  return {
    id: c.appId,
    slug,
    async installation(installationId) {
      const client = (await app.getInstallationOctokit(installationId)) as unknown as GitHubClient;
      return {
        client,
        token: async () => ((await client.auth({ type: 'installation' })) as { token: string }).token,
      };
    },
    async repository(repo) {
      const failed = (what: string, e: unknown, hint: string) => {
        const status = (e as { status?: number }).status;
        return new ExternalError('github', what, (e as Error).message, { cause: e, retryable: status === undefined || status >= 500, ...(status ? { status } : {}), hint });
      };
      let installationId: number;
      try {
        installationId = (await app.octokit.request('GET /repos/{owner}/{repo}/installation', { owner: repo.owner, repo: repo.repo })).data.id;
      } catch (e) {
        throw failed(`find the App's installation on ${repo.owner}/${repo.repo}`, e, `install the GitHub App ${slug} on ${repo.owner}/${repo.repo}`);
      }
      const client = (await app.getInstallationOctokit(installationId)) as unknown as GitHubClient;
      try {
        const { data } = await client.rest.repos.get({ owner: repo.owner, repo: repo.repo });
        return { installationId, cloneUrl: data.clone_url, defaultBranch: data.default_branch };
      } catch (e) {
        throw failed(`read ${repo.owner}/${repo.repo}`, e, 'check that the App\'s installation can read the repository (contents: read, metadata: read)');
      }
    },
  };
}

/** Whether the signature header (X-Hub-Signature-256) is GitHub's HMAC of the body with the secret. */
export type SignatureCheck = (body: string, signature: string | undefined) => Promise<boolean>;

/** X-Hub-Signature-256 verification by @octokit/webhooks (constant-time comparison). */
export async function webhookSignatureCheck(secret: string): Promise<SignatureCheck> {
  const { Webhooks } = await import('@octokit/webhooks');
  const webhooks = new Webhooks({ secret });
  return async (body, signature) => {
    if (!signature) return false;
    try {
      return await webhooks.verify(body, signature);
    } catch {
      return false; // a malformed signature header is a wrong one
    }
  };
}
