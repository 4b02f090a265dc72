// One evaluation: bring the pull request's commits into the repository's bare mirror, judge the
// head by the release branch's policies (check/flow.ts, reading git objects only: nothing from
// the pull request is checked out, installed or run), and post the report as the App. A job
// overtaken by a newer one for the same pull request posts nothing.

import { mirrorPath, updateMirror } from '../adapters/git/mirror.js';
import type { GitHubApp } from '../adapters/github/app.js';
import { checkChange } from '../check/flow.js';
import { publishFailure, publishReport, type Publisher } from '../check/publish.js';
import type { EvaluationJob } from './events.js';
import type { RunContext } from './queue.js';

export interface EvaluatorOptions {
  app: GitHubApp;
  mirrorDir: string;
  /** the branch whose policies judge (default: the repository's default branch) */
  releaseBranch?: string;
  prometheusUrl?: string;
  log: (line: string) => void;
}

/** GitHub owner and repository names: letters, digits, '.', '-', '_' (never '..' alone). */
const safeName = /^(?!\.{1,2}$)[A-Za-z0-9._-]+$/;

export function evaluator(o: EvaluatorOptions) {
  /** The release branch and the job's refs into the mirror; fetches into one mirror are serialized (adapters/git/mirror.ts). */
  function sync(mirror: string, job: EvaluationJob, release: string, token: string, signal: AbortSignal): Promise<void> {
    return updateMirror(mirror, job.cloneUrl, [`refs/heads/${release}:refs/heads/${release}`, ...job.refs.map((r) => `${r}:${r}`)], token, signal);
  }

  return async function evaluate(job: EvaluationJob, context: RunContext): Promise<void> {
    const { owner, repo } = job.repo;
    if (!safeName.test(owner) || !safeName.test(repo)) throw new Error(`not a GitHub repository name: ${owner}/${repo}`);
    const installation = await o.app.installation(job.installationId);
    const publisher: Publisher = { client: installation.client, appId: o.app.id, commentAuthor: { appId: o.app.id, login: `${o.app.slug}[bot]` } };
    const log = (line: string) => o.log(`${owner}/${repo} ${job.describe}: ${line}`);
    const release = o.releaseBranch ?? job.defaultBranch;
    const mirror = mirrorPath(o.mirrorDir, job.repo);
    let report;
    try {
      await sync(mirror, job, release, await installation.token(), context.signal);
      if (context.outdated()) return log('a newer head arrived; not evaluated');
      report = await checkChange({
        root: mirror, base: `refs/heads/${release}`, head: job.event.headSha, at: new Date(), event: job.event,
        github: { client: installation.client, ...(job.pusher ? { pushers: [job.pusher] } : {}) },
        ...(o.prometheusUrl ? { prometheusUrl: o.prometheusUrl } : {}),
      });
    } catch (e) {
      if (context.outdated()) return log(`a newer head arrived; not posted (${(e as Error).message})`);
      if (context.signal.aborted) return log('abandoned at shutdown; not posted');
      log(`not judged: ${(e as Error).message}`);
      await publishFailure(job.event, `modelship could not judge ${job.describe}:\n\n${(e as Error).message}`, log, publisher);
      return;
    }
    if (context.outdated()) return log(`${report.verdict}; a newer head arrived, not posted`);
    if (context.signal.aborted) return log(`${report.verdict}; abandoned at shutdown, not posted`);
    log(`${report.verdict}, judged by ${release}'s policies${job.pusher ? `; last pushed by ${job.pusher}` : ''}`);
    await publishReport(job.event, report, log, publisher);
  };
}
