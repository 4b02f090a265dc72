// Who owns a path by the repository policy (policies/repository.yaml): its code rules, checked
// in order, the first match owning the file, else the default owners. Pure, shared by the diff
// (which groups a pull request's code files by owner) and by validate (which checks the globs).

import type { RepositoryPolicy } from '../config/types.js';

/** The repository policy's path: a policy file, but of the repository, not of an environment named "repository". */
export const repositoryPolicyFile = 'policies/repository.yaml';

/**
 * Whether modelship reads `path` as a release file (config/load.ts classify: an environment, a
 * policy, a model card or a version manifest). Anything else a pull request changes is code.
 */
export function isReleaseFile(path: string): boolean {
  const parts = path.split('/');
  const name = parts[parts.length - 1]!;
  if (name.startsWith('.') || /^README(\.[a-z]+)?$/i.test(name) || !name.endsWith('.yaml')) return false;
  if ((parts[0] === 'environments' || parts[0] === 'policies') && parts.length === 2) return true;
  if (parts[0] === 'models' && parts.length === 3) return name === 'model.yaml';
  return parts[0] === 'models' && parts.length === 4 && parts[2] === 'versions';
}

/** The approvers a change needs: any member of `owners`, `count` of them. */
export interface OwnerRule {
  owners: string[];
  count: number;
  /** where the rule is written: "code.rules[0]", "code.default", "policies", "environments" */
  source: string;
}

/**
 * A glob as a RegExp over a repository path: `*` matches within one path segment, `**` across
 * segments (zero or more), `?` one character other than `/`, a trailing `/` the whole folder.
 * A pattern without `/` other than a trailing one matches at the root only (like the paths
 * git prints), unlike CODEOWNERS, where it matches at any depth: write `**\/name` for that.
 */
export function globToRegExp(glob: string): RegExp {
  const folder = glob.endsWith('/');
  const body = folder ? glob.slice(0, -1) : glob;
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === '*' && body[i + 1] === '*') {
      const slash = body[i + 2] === '/';
      out += slash ? '(?:[^/]+/)*' : '.*';
      i += slash ? 2 : 1;
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else out += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}${folder ? '/.+' : ''}$`);
}

/** The code rule that owns `path`. */
export function codeOwnerOf(policy: RepositoryPolicy, path: string): OwnerRule {
  const rules = policy.code.rules ?? [];
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i]!;
    if (r.paths.some((g) => globToRegExp(g).test(path))) return { owners: r.owners, count: r.count ?? 1, source: `code.rules[${i}]` };
  }
  return { owners: policy.code.default.owners, count: policy.code.default.count ?? 1, source: 'code.default' };
}

/** The rule for changes to policies/*.yaml or to environments (adding, removing, retargeting). */
export function repositoryRule(policy: RepositoryPolicy, what: 'policies' | 'environments'): OwnerRule {
  return { owners: policy[what].owners, count: policy[what].count ?? 1, source: what };
}

/**
 * The environment keys that say where an environment reaches: a change to any needs the
 * repository's environment owners. The prediction log's sink receives every request and answer
 * the models see, and its table is what the shadow gate and the sample ratio check read: moving
 * either is as much a retargeting as moving the cluster.
 */
export const targetKeys = [
  ['kubernetes', 'cluster'], ['kubernetes', 'namespace'], ['kubernetes', 'mode'],
  ['snowflake', 'database'], ['snowflake', 'schema'], ['snowflake', 'warehouse'], ['snowflake', 'role'],
  ['inferenceLog', 'sink'], ['inferenceLog', 'table'],
] as const;
