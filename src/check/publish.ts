// Posts a check report to GitHub: one check run on the commit, one sticky comment on the pull
// request, each cut to GitHub's size limits. serve posts as its GitHub App (its own check run,
// its bot's comment); `check --github` in a workflow posts with GITHUB_TOKEN (GitHub Actions' app).

import { UsageError } from '../errors.js';
import { renderMarkdown, commentMarker } from '../gates/report/render.js';
import { mdFence } from '../model/escape.js';
import { isBlocked, type Report } from '../gates/run.js';
import {
  checkRunTextLimit, commentLimit, connectionFromEnv, githubActionsAppId, octokit, upsertCheckRun, upsertStickyComment,
  type CommentAuthor, type GitHubClient,
} from '../adapters/github/client.js';
import type { CheckEvent } from '../adapters/github/event.js';

/** Who posts: the client, the app whose check run is ours, and whose comment is ours. */
export interface Publisher {
  client: GitHubClient;
  appId: number;
  /** unset: the first comment with the marker (check --github, where the token's login is not known) */
  commentAuthor?: CommentAuthor;
}

/** The check run's name: the required status check's context. */
export const checkRunName = 'modelship';

/** Posts the report; `log` hears what was created or updated. */
export async function publishReport(event: CheckEvent, report: Report, log: (line: string) => void, publisher: Publisher = actionsPublisher()): Promise<void> {
  const blocked = isBlocked(report);
  const conclusion = report.verdict === 'no-changes' ? 'neutral' : blocked ? 'failure' : 'success';
  const run = await upsertCheckRun(publisher.client, event.repo, {
    name: checkRunName, appId: publisher.appId, headSha: event.checkSha, conclusion,
    output: { title: report.headline, summary: renderMarkdown(report, { limit: checkRunTextLimit }) },
  });
  log(`check run ${run.created ? 'created' : 'updated'} on ${event.checkSha.slice(0, 12)}: ${conclusion}`);
  if (event.pull && event.name !== 'merge_group') {
    const c = await upsertStickyComment(publisher.client, event.repo, event.pull, commentMarker, renderMarkdown(report, { limit: commentLimit }), publisher.commentAuthor);
    log(`report comment ${c.created ? 'posted' : 'updated'} on #${event.pull}`);
  }
}

/**
 * A change the checker could not judge (a merge group of several pull requests, a commit
 * missing from the mirror, a failure reading GitHub) gets a failing check run saying why:
 * nothing posted would leave a required check pending, and neutral would pass it.
 */
export async function publishFailure(event: CheckEvent, reason: string, log: (line: string) => void, publisher: Publisher = actionsPublisher()): Promise<void> {
  const run = await upsertCheckRun(publisher.client, event.repo, {
    name: checkRunName, appId: publisher.appId, headSha: event.checkSha, conclusion: 'failure',
    // The reason quotes errors, which quote git and GitHub data: shown as text in a fence, never rendered.
    output: { title: 'modelship could not judge this change', summary: mdFence([reason]).join('\n').slice(0, checkRunTextLimit) },
  });
  log(`check run ${run.created ? 'created' : 'updated'} on ${event.checkSha.slice(0, 12)}: failure (not judged)`);
}

function actionsPublisher(): Publisher {
  return { client: octokit(githubConnection()), appId: githubActionsAppId };
}

/** The GitHub connection from the environment (GITHUB_TOKEN), or a usage error saying what is missing. */
export function githubConnection() {
  const c = connectionFromEnv();
  if (!c) throw new UsageError('--github needs GITHUB_TOKEN (the workflow\'s token with checks: write, pull-requests: write)');
  return c;
}
