// `sync --github`: each environment's sync as a GitHub Deployment on the commit, with its status
// (in progress, then success, failure or error) and a link to the Actions run that made it.

import { ModelshipError, UsageError } from '../errors.js';
import type { Environment } from '../config/types.js';
import type { GitHubClient, RepoRef } from '../adapters/github/client.js';
import type { SyncResult } from './agent.js';
import { deploymentRequest, finalStatus } from './deployment.js';
import type { Plan } from './types.js';

/** Where deployments are reported, and the Actions run that made them. */
export interface GitHubDeployments {
  gh: GitHubClient;
  repo: RepoRef;
  client: typeof import('../adapters/github/client.js');
  logUrl?: string;
}

/** The GitHub connection from the environment (GITHUB_TOKEN, GITHUB_REPOSITORY or the origin remote, the Actions run). */
export async function githubDeployments(root: string): Promise<GitHubDeployments> {
  const client = await import('../adapters/github/client.js');
  const { githubRepository } = await import('../adapters/github/repository.js');
  const connection = client.connectionFromEnv();
  if (!connection) throw new UsageError('--github needs GITHUB_TOKEN (the workflow\'s token with deployments: write)');
  const repo = await githubRepository(root);
  if (!repo) throw new UsageError('--github needs GITHUB_REPOSITORY (owner/name) or an origin remote on GitHub');
  const { GITHUB_SERVER_URL: server, GITHUB_REPOSITORY: full, GITHUB_RUN_ID: run } = process.env;
  return { gh: client.octokit(connection), repo, client, ...(server && full && run ? { logUrl: `${server}/${full}/actions/runs/${run}` } : {}) };
}

/**
 * One environment's GitHub Deployment during a sync. GitHub is told, not asked: when it cannot be
 * reached the sync still converges the environment, the failure is logged, and `failed` tells the
 * command to exit 3 so the workflow shows that the record on GitHub is missing.
 */
export class GitHubDeployment {
  failed = false;
  private id: number | undefined;
  constructor(private readonly github: GitHubDeployments, private readonly environment: string, private readonly log: (line: string) => void) {}

  async begin(plan: Plan, env: Environment): Promise<void> {
    const { client, gh, repo, logUrl } = this.github;
    const request = deploymentRequest(plan, env);
    await this.report(async () => {
      const d = await client.findOrCreateDeployment(gh, repo, { sha: plan.commit, environment: this.environment, description: request.description, payload: request.payload, production: request.production });
      this.id = d.id;
      await client.setDeploymentStatus(gh, repo, d.id, { state: 'in_progress', description: 'modelship is applying the plan', ...(logUrl ? { logUrl } : {}), ...(request.environmentUrl ? { environmentUrl: request.environmentUrl } : {}) });
    });
  }

  async end(r: SyncResult): Promise<void> {
    const status = finalStatus(r.result, r.record);
    await this.status(status.state, status.description);
  }

  async error(e: unknown): Promise<void> {
    await this.status('error', `sync failed: ${e instanceof Error ? e.message : String(e)}`);
  }

  private async status(state: 'success' | 'failure' | 'error', description: string): Promise<void> {
    if (this.id === undefined) return;
    const { client, gh, repo, logUrl } = this.github;
    const id = this.id;
    await this.report(() => client.setDeploymentStatus(gh, repo, id, { state, description, ...(logUrl ? { logUrl } : {}) }));
  }

  private async report(call: () => Promise<void>): Promise<void> {
    try {
      await call();
    } catch (e) {
      if (!(e instanceof ModelshipError)) throw e;
      this.failed = true;
      this.log(`${this.environment}: could not record the deployment on GitHub: ${e.message}`);
    }
  }
}
