// `modelship serve`'s agent flags as a user gives them: each wrong or missing one is a usage error
// (exit 2) naming the flag, what was expected and what was found; nothing starts.
import t from 'tap';
import { runCli } from '../helpers/cli.js';

const cases: Array<[string, string[], Record<string, string>, string]> = [
  ['an unknown role', ['--roles', 'check,deploy'], {}, '--roles expects a comma-separated list of check and agent, found "check,deploy"'],
  ['the agent role without environments', ['--roles', 'agent'], {}, 'the agent role needs --environments (or MODELSHIP_ENVIRONMENTS): the environments it reconciles, e.g. staging,production'],
  ['environments for a replica that does not run the agent', ['--roles', 'check', '--environments', 'production'], {}, '--environments names the agent\'s environments, but --roles "check" does not run the agent'],
  ['a name that is no environment name', ['--environments', 'staging,Prod!'], {}, '--environments expects environment names separated by commas (e.g. staging,production), found "Prod!" in "staging,Prod!"'],
  ['an empty list', [], { MODELSHIP_ENVIRONMENTS: '' }, '--environments expects environment names separated by commas (e.g. staging,production), found "" in ""'],
  ['no repository', ['--environments', 'production'], {}, 'the agent role needs --repository (or MODELSHIP_REPOSITORY): the release repository as owner/name'],
  ['a repository that is not owner/name', ['--environments', 'production'], { MODELSHIP_REPOSITORY: 'https://github.com/acmerisk/model-releases' }, '--repository expects owner/name (e.g. acmerisk/model-releases), found "https://github.com/acmerisk/model-releases"'],
  ['a resync that is no duration', ['--environments', 'production', '--repository', 'acmerisk/model-releases', '--resync', '3 minutes'], {}, '--resync expects a duration of at least 1s such as 3m (units s, m, h), found "3 minutes"'],
  ['a self-heal setting that is not true or false', ['--environments', 'production', '--repository', 'acmerisk/model-releases'], { MODELSHIP_SELF_HEAL: 'yes' }, 'MODELSHIP_SELF_HEAL expects true or false, found "yes"'],
  ['a zero lease', ['--environments', 'production', '--repository', 'acmerisk/model-releases'], { MODELSHIP_LEASE_DURATION: '0s' }, '--lease-duration expects a duration of at least 1s such as 15s (units s, m, h), found "0s"'],
];

for (const [what, args, env, message] of cases) {
  t.test(what, async (t) => {
    const r = await runCli(['serve', ...args], { env });
    t.equal(r.code, 2, r.stderr);
    t.equal(r.stdout, '');
    t.match(r.stderr, message);
  });
}

t.test('valid agent flags pass to the next check (the App id)', async (t) => {
  const r = await runCli(['serve', '--environments', 'staging,production', '--repository', 'acmerisk/model-releases', '--resync', '90s', '--lease-duration', '15s']);
  t.equal(r.code, 2);
  t.match(r.stderr, '--app-id is required (or its environment variable; see modelship serve --help)');
});
