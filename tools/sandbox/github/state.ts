// The in-memory repository behind the GitHub stand-in: issues and pull requests (one number
// sequence, a pull request being an issue with pull data, as on GitHub), comments, reviews,
// check runs, deployments with their statuses, branch heads and teams. Plain storage; GitHub's rules live in handlers.ts.

import { createHash } from 'node:crypto';

export type ReviewState = 'APPROVED' | 'CHANGES_REQUESTED' | 'COMMENTED' | 'DISMISSED';

export interface PullData {
  headOwner: string;
  headRef: string;
  headSha: string;
  baseRef: string;
  draft: boolean;
  maintainerCanModify: boolean;
  mergedAt: string | null;
  mergedBy: string | null;
  mergeCommitSha: string | null;
  requestedReviewers: string[];
  /** team slugs */
  requestedTeams: string[];
}

export interface IssueRecord {
  id: number;
  number: number;
  title: string;
  body: string | null;
  state: 'open' | 'closed';
  stateReason: string | null;
  user: string;
  labels: string[];
  assignees: string[];
  createdAt: string;
  updatedAt: string;
  closedAt: string | null;
  closedBy: string | null;
  /** present when the issue is a pull request */
  pull?: PullData;
}

export type PullRecord = IssueRecord & { pull: PullData };

export interface CommentRecord {
  id: number;
  issueNumber: number;
  body: string;
  user: string;
  /** the GitHub App whose installation token wrote it (GitHub's performed_via_github_app) */
  appId?: number;
  createdAt: string;
  updatedAt: string;
}

export interface ReviewRecord {
  id: number;
  pullNumber: number;
  user: string;
  state: ReviewState;
  body: string;
  commitId: string;
  submittedAt: string;
}

export interface CheckRunRecord {
  id: number;
  /** the GitHub App that created it: only that app may update it */
  appId: number;
  name: string;
  headSha: string;
  status: 'queued' | 'in_progress' | 'completed';
  conclusion: string | null;
  startedAt: string;
  completedAt: string | null;
  detailsUrl: string | null;
  externalId: string;
  output: { title: string | null; summary: string | null; text: string | null; annotationsCount: number };
}

export type DeploymentState = 'error' | 'failure' | 'inactive' | 'in_progress' | 'queued' | 'pending' | 'success';

export interface DeploymentStatusRecord {
  id: number;
  state: DeploymentState;
  description: string;
  environmentUrl: string;
  logUrl: string;
  creator: string;
  createdAt: string;
}

export interface DeploymentRecord {
  id: number;
  sha: string;
  ref: string;
  task: string;
  payload: unknown;
  environment: string;
  description: string | null;
  creator: string;
  createdAt: string;
  updatedAt: string;
  transientEnvironment: boolean;
  productionEnvironment: boolean;
  /** oldest first */
  statuses: DeploymentStatusRecord[];
}

/** A GitHub App registered on the stand-in and installed on its repository. */
export interface AppRecord {
  id: number;
  slug: string;
  name: string;
  /** PEM; JWTs the app signs with its private key are verified against it */
  publicKey: string;
  installationId: number;
}

/** Who a request acts as: a user, or an app's bot (`<slug>[bot]`) with the app. */
export interface Actor {
  login: string;
  app?: { id: number; slug: string; name: string };
  /** authenticated as the app itself (a JWT), not as an installation */
  jwt?: AppRecord;
}

/**
 * The app a workflow's GITHUB_TOKEN belongs to: check runs created with it carry GitHub Actions
 * (id 15368, the id GitHub names in its 403 to other apps updating them, see handlers.ts).
 */
export const githubActionsApp = { id: 15368, slug: 'github-actions', name: 'GitHub Actions' };

/** What GET /repos/{owner}/{repo}/commits/{ref} tells of a commit: the GitHub logins of its author and committer. */
export interface CommitRecord {
  author: string | null;
  committer: string | null;
  message: string;
}

export interface GitHubStateOptions {
  owner: string;
  repo: string;
  defaultBranch?: string;
  /** the login the token belongs to: author of what the client creates (default modelship-bot) */
  login?: string;
  /** the repository's collaborators; when given, reviews may be requested only from them */
  users?: string[];
  /** team members by '@org/slug' or 'slug' (the repository owner's org) */
  teams?: Record<string, string[]>;
  /** the clock, for deterministic timestamps */
  now?: () => Date;
  /**
   * where git clones the repository from (a local bare repository in tests): the repository's
   * `clone_url` (GET /repos/{owner}/{repo}); default GitHub's https://github.com/<owner>/<repo>.git
   */
  cloneUrl?: string;
  /** GitHub Apps installed on the repository (JWT and installation-token authentication) */
  apps?: Array<{ id: number; slug: string; name?: string; publicKey: string; installationId?: number }>;
  /** personal access tokens: token -> the user it acts as (no app: GET /user answers for them) */
  userTokens?: Record<string, string>;
}

/** A 40-hex commit id standing in for one git would compute (there is no git data here). */
export function fakeSha(seed: string): string {
  return createHash('sha1').update(seed).digest('hex');
}

export class GitHubState {
  readonly owner: string;
  readonly repo: string;
  readonly defaultBranch: string;
  readonly cloneUrl: string | undefined;
  readonly login: string;
  readonly collaborators: Set<string> | undefined;
  /** members by 'org/slug' */
  readonly teams = new Map<string, string[]>();
  /** branch name -> head commit */
  readonly branches = new Map<string, string>();
  readonly issues = new Map<number, IssueRecord>();
  readonly comments: CommentRecord[] = [];
  readonly reviews: ReviewRecord[] = [];
  readonly checkRuns: CheckRunRecord[] = [];
  readonly deployments: DeploymentRecord[] = [];
  readonly apps = new Map<number, AppRecord>();
  /** personal access tokens: token -> login */
  readonly userTokens: Map<string, string>;
  /** installation access tokens: token -> app id and expiry (ms) */
  readonly installationTokens = new Map<string, { appId: number; expiresAt: number }>();
  /** commits by sha, as tests declare them (there is no git data here) */
  readonly commits = new Map<string, CommitRecord>();
  /** who the request being handled acts as (set by the server before each handler) */
  actor: Actor;
  private readonly clock: () => Date;
  private readonly userIds = new Map<string, number>();
  private lastNumber = 0;
  private lastId = 1000;

  constructor(o: GitHubStateOptions) {
    this.owner = o.owner;
    this.repo = o.repo;
    this.defaultBranch = o.defaultBranch ?? 'main';
    this.cloneUrl = o.cloneUrl;
    this.login = o.login ?? 'modelship-bot';
    this.collaborators = o.users ? new Set([...o.users, this.login, this.owner]) : undefined;
    for (const [key, members] of Object.entries(o.teams ?? {})) {
      const [org, slug] = key.replace(/^@/, '').includes('/') ? key.replace(/^@/, '').split('/', 2) : [o.owner, key];
      this.teams.set(`${org!.toLowerCase()}/${slug!.toLowerCase()}`, [...members]);
    }
    this.clock = o.now ?? (() => new Date());
    for (const [i, a] of (o.apps ?? []).entries()) {
      this.apps.set(a.id, { id: a.id, slug: a.slug, name: a.name ?? a.slug, publicKey: a.publicKey, installationId: a.installationId ?? 9000 + i });
    }
    this.userTokens = new Map(Object.entries(o.userTokens ?? {}));
    this.actor = { login: this.login, app: githubActionsApp };
    this.branches.set(this.defaultBranch, fakeSha(`${this.owner}/${this.repo}@${this.defaultBranch}`));
  }

  /** The clock's time in milliseconds. */
  nowMs(): number {
    return this.clock().getTime();
  }

  /** Now, in GitHub's timestamp format (seconds, Z). */
  now(): string {
    return this.clock().toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  /** The next issue/pull request number: one sequence for both, as on GitHub. */
  nextNumber(): number {
    return ++this.lastNumber;
  }

  /** The next id of anything else (comments, reviews, check runs, issues' own ids). */
  nextId(): number {
    return ++this.lastId;
  }

  /** A stable numeric id per login, for the user objects in responses. */
  userId(login: string): number {
    let id = this.userIds.get(login);
    if (id === undefined) {
      id = 500 + this.userIds.size;
      this.userIds.set(login, id);
    }
    return id;
  }

  pull(number: number): PullRecord | undefined {
    const issue = this.issues.get(number);
    return issue?.pull ? (issue as PullRecord) : undefined;
  }

  pulls(): PullRecord[] {
    return [...this.issues.values()].filter((i): i is PullRecord => i.pull !== undefined);
  }

  /** The commit a branch name, `refs/heads/` name or full sha names; undefined if unknown. */
  resolveRef(ref: string): string | undefined {
    if (/^[0-9a-f]{40}$/.test(ref)) return ref;
    return this.branches.get(ref.replace(/^refs\/heads\//, '')) ?? this.branches.get(ref.replace(/^heads\//, ''));
  }

  /** Points a branch at a commit, e.g. after the test pushed to its real git repository. */
  setBranch(name: string, sha: string): void {
    this.branches.set(name, sha);
    for (const p of this.pulls()) {
      if (p.state === 'open' && p.pull.headRef === name && p.pull.headOwner === this.owner) p.pull.headSha = sha;
    }
  }

  /** The members of a team, by '@org/slug', 'org/slug' or slug; undefined if there is no such team. */
  team(orgOrKey: string, slug?: string): string[] | undefined {
    const key = slug ? `${orgOrKey}/${slug}` : orgOrKey.replace(/^@/, '').includes('/') ? orgOrKey.replace(/^@/, '') : `${this.owner}/${orgOrKey}`;
    return this.teams.get(key.toLowerCase());
  }

  /**
   * What GitHub Actions does when a job with `environment:` starts on `ref` (e.g. the sync job on
   * main): it creates its own deployment of the commit to that environment, task "deploy", by
   * github-actions[bot], and moves it through queued and in_progress. GitHub's REST description
   * calls it "a deployment created as the result of an Actions check run from a workflow that
   * references an environment" (DeploymentSimple, github/rest-api-description); the job's
   * environment `url` becomes its environment_url
   * (https://docs.github.com/actions/using-jobs/using-environments-for-jobs). Anyone listing the
   * commit's deployments to that environment with task=deploy finds this one first.
   */
  actionsDeployment(ref: string, environment: string, options: { url?: string; runUrl?: string } = {}): DeploymentRecord {
    const sha = this.resolveRef(ref);
    if (!sha) throw new Error(`there is no ref ${ref}`);
    const now = this.now();
    const creator = 'github-actions[bot]';
    const status = (state: DeploymentState): DeploymentStatusRecord => ({
      id: this.nextId(), state, description: '', environmentUrl: options.url ?? '', logUrl: options.runUrl ?? '', creator, createdAt: now,
    });
    const d: DeploymentRecord = {
      id: this.nextId(), sha, ref, task: 'deploy', payload: {}, environment, description: null, creator, createdAt: now, updatedAt: now,
      transientEnvironment: false, productionEnvironment: false, statuses: [status('queued'), status('in_progress')],
    };
    this.deployments.push(d);
    return d;
  }

  /** Records a submitted review, as a reviewer would on github.com; drops their pending review request. */
  addReview(pullNumber: number, user: string, state: ReviewState, options: { body?: string; commitId?: string } = {}): ReviewRecord {
    const pr = this.pull(pullNumber);
    if (!pr) throw new Error(`there is no pull request #${pullNumber}`);
    if (user === pr.user && state !== 'COMMENTED') throw new Error(`${user} cannot approve or request changes on their own pull request #${pullNumber}`);
    const review: ReviewRecord = {
      id: this.nextId(), pullNumber, user, state, body: options.body ?? '',
      commitId: options.commitId ?? pr.pull.headSha, submittedAt: this.now(),
    };
    this.reviews.push(review);
    pr.pull.requestedReviewers = pr.pull.requestedReviewers.filter((r) => r !== user);
    return review;
  }
}
