// The modelship command line as a value: every command, its flags and its help, dispatching to
// src/commands/ (each imported when it runs, so `modelship --version` stays instant). The bin
// (cli.ts) runs it on process.argv; tests run it in-process with their own output.

import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ExitCode } from './errors.js';
import { printError, terminalOutput, type Output } from './commands/output.js';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

type CommandModule = { run: (args: unknown[], out: Output) => Promise<number> };

/** Runs `modelship <args>` (without the node and script names) and returns its exit code. */
export async function runCommand(args: string[], terminal: Output): Promise<number> {
  const output = terminalOutput(terminal);
  let code: number = ExitCode.ok;
  const program = buildProgram(output, (c) => (code = c));
  try {
    await program.parseAsync(withoutHelpForUnknownCommand(program, args), { from: 'user' });
    return code;
  } catch (e) {
    // help and version exit 0; everything else commander rejects is a usage error
    if (e instanceof CommanderError) return e.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    return printError(e, output, args.includes('--json'));
  }
}

/**
 * `modelship nosuchcommand --help` would print the top-level help and exit 0 (commander handles
 * --help before it looks at the command name): without the help flag, an unknown command is the
 * usage error it is (exit 2), with commander's suggestion of the nearest command.
 */
function withoutHelpForUnknownCommand(program: Command, args: string[]): string[] {
  const end = args.indexOf('--') < 0 ? args.length : args.indexOf('--');
  const find = (cmd: Command, n: string) => cmd.commands.find((c) => c.name() === n || c.aliases().includes(n));
  let cmd = program;
  let i = 0;
  // down the command tree (`canary watch`) while the command has subcommands
  while (cmd.commands.length) {
    while (i < end && args[i]!.startsWith('-')) i += args[i] === '-C' || args[i] === '--repo' ? 2 : 1;
    if (i >= end) return args;
    let name = args[i]!;
    // `modelship help nosuchcommand` likewise
    if (name === 'help' && cmd === program && i + 1 < end) name = args[++i]!;
    const sub = find(cmd, name);
    if (!sub) return args.filter((a, k) => k >= end || (a !== '--help' && a !== '-h' && !(a === 'help' && k === i - 1)));
    cmd = sub;
    i++;
  }
  return args;
}

function buildProgram(output: Output, exit: (code: number) => void): Command {
  const lazy = (load: () => Promise<CommandModule>) => async (...args: unknown[]) => {
    const mod = await load();
    exit(await mod.run(args, output));
  };

  const program = new Command('modelship')
    .description('GitOps release system for machine-learning models: promotions are pull requests, merge is deployment.')
    .version(pkg.version, '-V, --version', 'print the version and exit')
    .option('-C, --repo <dir>', 'the release repository (default: the git repository around the current folder)')
    .enablePositionalOptions()
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => output.out(s.replace(/\n$/, '')), writeErr: (s) => output.err(s.replace(/\n$/, '')) })
    .addHelpText('after', `
Exit codes: 0 ok, 1 a check failed (or a sync did not converge), 2 usage error, 3 an external system failed, 4 another agent holds the environment's lease, 70 internal error, 130 interrupted.
Docs: README.md in the modelship repository.`);

  command('validate')
    .description('check every file in environments/, models/ and policies/: schemas and cross-file rules; all problems in one run')
    .option('--rev <rev>', 'validate a git revision (branch, tag or commit) instead of the working tree')
    .option('--json', 'print the result as JSON')
    .action(lazy(() => import('./commands/validate.js')));

  command('register')
    .description('upload a training run\'s artifact to the registry (content-addressed, sha256-verified) and write its version manifest')
    .argument('<source>', 'the training run: a local folder or s3://bucket/prefix/ holding metadata.json, validation-report.json and the artifact')
    .option('--version <version>', 'the version to register (default: metadata.json\'s version, else <YYYY.MM.DD>-<n> from its createdAt)')
    .addOption(new Option('--concurrency <n>', 'parts uploaded in parallel (lowered, with a note, so the parts in flight fit in 96 MiB of memory)').default(4).argParser(positiveInt))
    .addOption(new Option('--part-size <MiB>', 'multipart part size in MiB, at most 96 (below 5, S3\'s minimum of 5 is used; grown automatically when an artifact would need over 10,000 parts)').default(16).argParser(positiveInt))
    .option('--json', 'print the result as JSON')
    .action(lazy(() => import('./commands/register.js')));

  command('promote')
    .description('pin a registered version in an environment on a new branch, commit, and optionally open the pull request')
    .argument('<model@version>', 'what to promote, e.g. fraud-detector@2026.11.20-1')
    .requiredOption('--to <env>', 'the environment to promote to')
    .addOption(new Option('--canary <percent>', 'start or step a canary with this share of online traffic (1-50) instead of replacing the stable version').argParser(percent).conflicts('shadow'))
    .option('--shadow', 'run the version as a shadow (mirrored traffic, answers discarded)')
    .addOption(new Option('--ab <percent>', 'start an A/B test: the version (B) gets this share of online traffic (1-50) beside the stable version (A), held until the policy\'s A/B test concludes it').argParser(percent).conflicts(['canary', 'shadow']))
    .option('--ab-override <reason>', 'conclude a running A/B without the test\'s verdict: the reason goes into the commit as an AB-Override trailer, which the check shows and the audit record keeps')
    .option('--reason <text>', 'why: recorded in the environment file and shown in the check report')
    .option('--open-pr', 'push the branch and open (or update) the pull request on GitHub (needs GITHUB_TOKEN)')
    .option('--base <branch>', 'the branch the pull request targets (default: the repository\'s default branch)')
    .option('--force', 'replace an existing promotion branch of the same name')
    .option('--json', 'print the result as JSON')
    .action(lazy(() => import('./commands/promote.js')));

  command('check')
    .description('gate a change to the release repository by the base branch\'s policies and report on every gate of every change')
    .option('--base <rev>', 'the base revision whose policies judge (default: origin/HEAD, else main)')
    .option('--head <rev>', 'the revision to check (default: HEAD)')
    .addOption(new Option('--format <format>', 'report format').choices(['text', 'markdown', 'json']).default('text'))
    .option('--json', 'same as --format json')
    .option('--github', 'run in GitHub Actions: read the event, post one check run and one sticky PR comment')
    .option('--at <time>', 'evaluate as of this time (freeze windows, soak, canary age); default now')
    .option('--output <file>', 'also write the markdown report to this file')
    .option('--prometheus-url <url>', 'Prometheus for canary checks (default: MODELSHIP_PROMETHEUS_URL)')
    .action(lazy(() => import('./commands/check.js')));

  command('serve')
    .description('run the checker as a GitHub App: take webhooks, judge pull requests and merge groups from a bare mirror by the release branch\'s policies, post one check run and one comment as the App; with --environments, also the in-cluster agent: reconcile those environments from the release branch (push webhook, periodic resync), one leader per environment by Lease')
    .option('--app-id <id>', 'the GitHub App\'s id (default: MODELSHIP_GITHUB_APP_ID)')
    .option('--private-key-file <file>', 'the App\'s private key, PEM (default: MODELSHIP_GITHUB_PRIVATE_KEY_FILE)')
    .option('--webhook-secret-file <file>', 'the App\'s webhook secret (default: MODELSHIP_WEBHOOK_SECRET_FILE)')
    .option('--github-api-url <url>', 'the GitHub REST API (default: MODELSHIP_GITHUB_API_URL, else https://api.github.com)')
    .option('--listen <host:port>', 'where to listen; webhooks at POST /webhooks, probes at /healthz and /readyz (default: MODELSHIP_LISTEN, else 0.0.0.0:8080)')
    .option('--mirror-dir <dir>', 'where the bare mirrors of the repositories live (default: MODELSHIP_MIRROR_DIR, else ./mirrors)')
    .option('--concurrency <n>', 'evaluations at once; one per pull request at a time (default: MODELSHIP_CONCURRENCY, else 2)')
    .option('--release-branch <branch>', 'the branch whose policies judge (default: MODELSHIP_RELEASE_BRANCH, else the repository\'s default branch)')
    .option('--max-payload <bytes>', 'largest webhook payload accepted, 413 beyond (default: MODELSHIP_MAX_PAYLOAD, else 26214400: GitHub\'s own 25 MB cap)')
    .option('--shutdown-grace <seconds>', 'on SIGTERM, how long running evaluations may finish (default: MODELSHIP_SHUTDOWN_GRACE, else 30)')
    .option('--prometheus-url <url>', 'Prometheus for canary checks (default: MODELSHIP_PROMETHEUS_URL)')
    .option('--roles <roles>', 'what this replica does: check, agent or check,agent (default: MODELSHIP_ROLES, else check, plus agent when --environments is given)')
    .option('--environments <names>', 'the agent\'s environments, comma-separated (default: MODELSHIP_ENVIRONMENTS); each is reconciled by the replica holding its Lease modelship-<env>')
    .option('--repository <owner/name>', 'the agent\'s release repository (default: MODELSHIP_REPOSITORY)')
    .option('--resync <duration>', 'the agent reconciles every environment it leads this often, ±10 % (default: MODELSHIP_RESYNC, else 3m)')
    .option('--lease-duration <duration>', 'leader election: a Lease not renewed for this long is taken over (default: MODELSHIP_LEASE_DURATION, else 15s)')
    .option('--self-heal', 'the agent puts back fields of its objects that someone else changed, as sync --force-conflicts (default: MODELSHIP_SELF_HEAL=true|false, else false: a hand edit is reported as not converged)')
    .action(lazy(() => import('./commands/serve.js')));

  command('plan')
    .description('show what a sync would create, change or delete in each environment (read-only)')
    .option('--env <name...>', 'only these environments (default: all)')
    .option('--rev <rev>', 'the revision whose desired state to plan (default: HEAD)')
    .option('--json', 'print the plans as JSON')
    .action(lazy(() => import('./commands/plan.js')));

  command('sync')
    .description('make each environment run what the repository says: apply, wait until ready, record')
    .option('--env <name...>', 'only these environments (default: all)')
    .option('--rev <rev>', 'the revision to deploy (default: HEAD)')
    .option('--once', 'sync once and exit (the default)')
    .option('--watch', 'keep syncing every --interval; hand edits of managed objects are reverted (drift)')
    .option('--interval <duration>', 'with --watch, how often', '30s')
    .option('--listen <[host:]port>', 'with --watch, serve /healthz and /state (JSON) on [host:]port (default host 127.0.0.1; 0.0.0.0 in a pod)')
    .option('--ready-timeout <duration>', 'how long to wait for each object to become ready', '5m')
    .option('--record-dir <dir>', 'write each deployment record as <dir>/<env>/<commit>.json')
    .option('--force-conflicts', 'take over fields of managed objects that someone else changed (default: report the conflict and who owns the field)')
    .option('--github', 'report each environment that changes as a GitHub Deployment of the commit, with statuses (needs GITHUB_TOKEN)')
    .option('--json', 'print the results as JSON')
    .action(lazy(() => import('./commands/sync.js')));

  command('drift')
    .description('measure serving drift (PSI per feature, null-rate change, score shift) in the warehouse against each version\'s training histograms; exit 1 past the policy\'s bounds, 3 when unknown')
    .option('--env <name...>', 'only these environments (default: all)')
    .option('--model <name...>', 'only these models (default: every model the environment pins)')
    .option('--window <duration>', 'how far back from --at to read serving data (default: the policy\'s gates.drift.window, else 24h)')
    .option('--at <time>', 'end of the window (default: now)')
    .option('--table <DATABASE.SCHEMA.TABLE>', 'the scoring log to read (default: the model\'s serving.batch.target); needs one --model')
    .option('--timeout <duration>', 'per warehouse query; a query that takes longer makes drift "unknown"', '60s')
    .option('--rev <rev>', 'the revision whose pins and policies to use (default: HEAD)')
    .option('--open-issue', 'for each model past its bounds, open (or update) its retraining issue on GitHub (needs GITHUB_TOKEN)')
    .option('--json', 'print the result as JSON')
    .action(lazy(() => import('./commands/drift.js')));

  const audit = command('audit')
    .description('the signed, hash-chained, write-once audit trail: record what sync deployed, verify the trail, trace what served when');
  const loadAudit = lazy(() => import('./commands/audit.js'));
  audit.command('mirror')
    .description('after sync: sign and write (once) the record of each commit the sync applied, beside an incremental git bundle')
    .option('-C, --repo <dir>', 'the release repository')
    .requiredOption('--env <name>', 'the environment whose chain to extend')
    .option('--rev <rev>', 'the commit the sync applied (default: HEAD)')
    .option('--record-dir <dir>', 'where sync --record-dir wrote the deployment records (<dir>/<env>/<commit>.json)')
    .option('--report <file>', 'the gate report (check --output) to record the digest of; with --github the checker\'s check run is read instead')
    .option('--github', 'read the pull request, approvals and check run from GitHub (GITHUB_TOKEN, GITHUB_REPOSITORY); default: from the merge commit\'s message and trailers')
    .option('--kms-key <id>', 'sign with this AWS KMS key (ECC_NIST_P256); default MODELSHIP_AUDIT_KMS_KEY')
    .option('--key-file <file>', 'sign with this Ed25519 private key (PEM); default MODELSHIP_AUDIT_KEY_FILE or MODELSHIP_AUDIT_KEY')
    .option('--next-key-file <file>', 'a key rotation: the new Ed25519 key, which countersigns the record of the commit adding it to audit.keys; default MODELSHIP_AUDIT_NEXT_KEY_FILE')
    .option('--next-kms-key <id>', 'a key rotation: the new AWS KMS key (as --next-key-file); default MODELSHIP_AUDIT_NEXT_KMS_KEY')
    .option('--store <dir|s3://bucket/prefix>', 'write here instead of the policy\'s audit.store (a folder: the local, write-once demo store)')
    .option('--checkpoint-store <dir|s3://bucket/prefix>', 'publish the trail\'s signed checkpoint here instead of the policy\'s audit.checkpoints')
    .option('--json', 'print the result as JSON')
    .action(loadAudit);
  audit.command('verify')
    .description('check signatures, chain, sequence, git history and bundles of the trail; name every problem; exit 1 if any')
    .option('-C, --repo <dir>', 'the release repository')
    .option('--env <name...>', 'only these environments (default: every one whose policy declares an audit trail)')
    .option('--rev <rev>', 'main\'s tip to check history against and to read the policies from (default: HEAD)')
    .option('--since <seq|time>', 'judge records from this seq, or from the first recorded at or after this time (earlier ones only anchor the chain)')
    .option('--store <dir|s3://bucket/prefix>', 'read here instead of the policy\'s audit.store')
    .option('--checkpoints <dir|s3://bucket/prefix>', 'compare the trail with the newest checkpoint published here (pin it: default the policy\'s audit.checkpoints, read from --rev)')
    .option('--trust-root <root...>', 'take each environment\'s store, checkpoints and keys from its trust root, not from the policy at --rev: a file or s3://bucket/key as audit trust-root prints it, or a KMS key ARN (with --env and --store)')
    .option('--cache-dir <dir>', 'where to keep the trace index (default: .git/modelship-audit)')
    .option('--json', 'print the result as JSON')
    .action(loadAudit);
  audit.command('trace')
    .description('which version of a model served an environment at a time: its window, pull request, author, approvers, gate report and lineage')
    .option('-C, --repo <dir>', 'the release repository')
    .requiredOption('--model <name>', 'the model')
    .requiredOption('--env <name>', 'the environment')
    .requiredOption('--at <time>', 'the time, e.g. 2026-08-14T10:22:00Z')
    .option('--rev <rev>', 'read the policy from this revision (default: HEAD)')
    .option('--store <dir|s3://bucket/prefix>', 'read here instead of the policy\'s audit.store')
    .option('--trust-root <root>', 'answer only from the trail and keys this trust root pins, not the policy\'s: a file or s3://bucket/key (audit trust-root), or a KMS key ARN (with --store)')
    .option('--cache-dir <dir>', 'where to keep the trace index (default: .git/modelship-audit)')
    .option('--json', 'print the answer as JSON')
    .action(loadAudit);
  audit.command('trust-root')
    .description('print the environment\'s trust root (store, checkpoints, keys) as the policy at --rev declares it, for an auditor to review and pin (verify --trust-root)')
    .option('-C, --repo <dir>', 'the release repository')
    .requiredOption('--env <name>', 'the environment')
    .option('--rev <rev>', 'the reviewed revision to read the policy from (default: HEAD)')
    .action(loadAudit);
  audit.command('keygen')
    .description('create a local Ed25519 signing key (demo) and print the entry that trusts it in policies/<env>.yaml')
    .requiredOption('--id <id>', 'the key\'s id in the policy')
    .requiredOption('--out <file>', 'where to write the private key (PEM, mode 0600; never overwritten)')
    .action(loadAudit);

  command('status')
    .description('for each environment and model: the version main pins, what runs on EKS and in Snowflake, canary split, readiness, last batch run, drift, last deployment, running shadows and A/B tests with their live numbers; exit 1 when something is out of sync, unhealthy or split, 3 when a system cannot be read')
    .option('--env <name...>', 'only these environments (default: all)')
    .option('--rev <rev>', 'the revision whose pins to compare with (default: HEAD)')
    .option('--html <dir>', 'also write a self-contained dashboard to <dir>/index.html')
    .option('--no-drift', 'do not measure drift (skips one warehouse aggregation per model)')
    .option('--no-shadow-ab', 'do not read running shadows and A/B tests (skips one warehouse aggregation each)')
    .option('--window <duration>', 'drift window (default: the policy\'s gates.drift.window, else 24h)')
    .option('--sync-grace <duration>', 'how long EKS and Snowflake may run different versions before it is a split brain', '15m')
    .option('--timeout <duration>', 'per request to Kubernetes and per warehouse query', '20s')
    .option('--at <time>', 'report as of this time (default: now)')
    .option('--prometheus-url <url>', 'Prometheus for the dashboard\'s canary metrics (default: MODELSHIP_PROMETHEUS_URL)')
    .option('--json', 'print the snapshot as JSON')
    .action(lazy(() => import('./commands/status.js')));

  command('rollback')
    .description('roll a model back in an environment: revert (git revert) the commit on main that last moved its pin, or write the previous pin; the version taken away is held there afterwards')
    .option('--env <name>', 'the environment')
    .option('--model <name>', 'the model')
    .option('--to <version>', 'roll back to this version instead of the one before the last promotion (the pin is written)')
    .option('--commit <rev>', 'the promotion commit to revert (refused unless it is the last change of that pin on main)')
    .option('--reason <text>', 'why: in the commit, the pull request, and (when the pin is written) the environment file')
    .option('--open-pr', 'push the branch and open (or update) the pull request on GitHub (needs GITHUB_TOKEN)')
    .addOption(new Option('--break-glass', 'where the policy allows it and you are in its teams (GITHUB_TOKEN, GITHUB_ACTOR): push to the default branch with a Break-Glass trailer and open a review issue').conflicts('openPr'))
    .option('--base <branch>', 'the default branch (default: the repository\'s)')
    .option('--json', 'print the result as JSON')
    .action(lazy(() => import('./commands/rollback.js')));

  const canary = command('canary')
    .description('live canaries: watch their guardrails and roll back a canary that breaches them');
  canary.command('watch')
    .description('evaluate the canary checks of each live canary every interval; when one is breached for the policy\'s failureThreshold consecutive intervals, open the revert pull request (or push it, autoRollback: direct); exit 1 on a breach, 3 when a metric source is down')
    .option('-C, --repo <dir>', 'the release repository')
    .requiredOption('--env <name>', 'the environment')
    .option('--once', 'evaluate once and exit')
    .option('--interval <duration>', 'how often, and the length of one interval (default: the policy\'s canary.interval, else 1m)')
    .option('--open-pr', 'act on a breach as the policy says (autoRollback: pr opens the revert pull request, direct pushes it; needs GITHUB_TOKEN for pr); without it, only report')
    .option('--at <time>', 'evaluate as of this time (default: now)')
    .option('--prometheus-url <url>', 'Prometheus (default: MODELSHIP_PROMETHEUS_URL)')
    .option('--base <branch>', 'the default branch (default: the repository\'s)')
    .option('--json', 'print each evaluation as JSON')
    .action(lazy(() => import('./commands/canary.js')));

  /** A subcommand; every one accepts -C/--repo after its name too. */
  function command(name: string): Command {
    return program.command(name).option('-C, --repo <dir>', 'the release repository (default: the git repository around the current folder)');
  }

  return program;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || n < 1) throw new InvalidArgumentError('expected a positive whole number.');
  return n;
}

function percent(value: string): number {
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || n < 1 || n > 50) throw new InvalidArgumentError('expected a whole percentage from 1 to 50.');
  return n;
}
