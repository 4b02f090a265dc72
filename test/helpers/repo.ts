// Real git repositories for tests: a bare origin and a clone holding the example release files.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from './cli.js';

export interface TestRepo {
  /** the clone: a working tree on main */
  root: string;
  /** the bare origin */
  origin: string;
  git(...args: string[]): string;
  cleanup(): void;
}

/**
 * A fresh clone of a fresh origin whose main holds this project's environments/, models/, policies/.
 *
 * Building one is ~10 git processes; a copy of one is a file copy. So the first repository built
 * for a given content and commit dates is kept (unused, in the temp dir, removed at exit) and the
 * later ones are copies of it: the same objects, commits and refs as building it again, since git
 * writes the same commit for the same tree, author, committer and dates. That holds when the dates
 * are fixed (GIT_AUTHOR_DATE and GIT_COMMITTER_DATE set, as the tests with stable commit ids set
 * them); without them a commit is dated when it is made, so a repository is built each time unless
 * the caller says the first commit's time does not matter to it (`reuse: true`).
 */
export function makeReleaseRepo(options: { content?: boolean; reuse?: boolean } = {}): TestRepo {
  const dated = process.env.GIT_AUTHOR_DATE !== undefined && process.env.GIT_COMMITTER_DATE !== undefined;
  if (!dated && !options.reuse) return buildReleaseRepo(options);
  const git = Object.entries(process.env).filter(([k]) => k.startsWith('GIT_')).sort(([a], [b]) => a.localeCompare(b));
  const key = JSON.stringify([options.content !== false, dated ? git : 'undated', git.filter(([k]) => !k.endsWith('_DATE'))]);
  let template = templates.get(key);
  if (!template) {
    template = buildReleaseRepo(options);
    templates.set(key, template);
    if (templates.size === 1) process.once('exit', () => { for (const r of templates.values()) r.cleanup(); });
  }
  return copyReleaseRepo(template);
}

const templates = new Map<string, TestRepo>();

function buildReleaseRepo(options: { content?: boolean }): TestRepo {
  const dir = mkdtempSync(join(tmpdir(), 'modelship-repo-'));
  const origin = join(dir, 'origin.git');
  const root = join(dir, 'work');
  const run = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  run(dir, 'init', '-q', '--bare', '-b', 'main', origin);
  run(dir, 'init', '-q', '-b', 'main', root);
  run(root, 'config', 'user.name', 'Ada Engineer');
  run(root, 'config', 'user.email', 'ada@acmerisk.example');
  run(root, 'config', 'commit.gpgsign', 'false');
  run(root, 'remote', 'add', 'origin', origin);
  if (options.content !== false) {
    for (const d of ['environments', 'models', 'policies']) cpSync(join(projectRoot, d), join(root, d), { recursive: true });
    run(root, 'add', '-A');
    run(root, 'commit', '-q', '-m', 'AcmeRisk release repository');
    run(root, 'push', '-q', '-u', 'origin', 'main');
  }
  return repoIn(dir);
}

/** The test repository laid out in `dir` (origin.git and work/, as makeReleaseRepo makes them). */
function repoIn(dir: string): TestRepo {
  const root = join(dir, 'work');
  return {
    root, origin: join(dir, 'origin.git'),
    git: (...args) => execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A copy of `repo` (origin and clone, the clone's origin remote pointing at the copy's origin): faster than building it again. */
export function copyReleaseRepo(repo: TestRepo): TestRepo {
  const dir = mkdtempSync(join(tmpdir(), 'modelship-repo-'));
  cpSync(join(repo.root, '..'), dir, { recursive: true });
  const copy = repoIn(dir);
  // `git remote set-url origin <copy's origin>`, without starting a git (from a test process that
  // has loaded the client libraries, each spawn copies a large address space's page tables)
  const config = join(copy.root, '.git', 'config');
  const text = readFileSync(config, 'utf8');
  const url = `\turl = ${repo.origin}\n`;
  if (!text.includes(url)) throw new Error(`${config}: no origin url ${repo.origin}`);
  writeFileSync(config, text.replace(url, `\turl = ${copy.origin}\n`));
  return copy;
}
