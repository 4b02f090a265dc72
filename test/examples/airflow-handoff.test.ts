// The Airflow example's hand-off script, run as the DAG's last task runs it: a finished training
// run is registered into the registry (s3rver) and the staging pull request is opened (GitHub
// stand-in, every request checked against GitHub's OpenAPI description).
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { startGitHub } from '../../tools/sandbox/github/server.js';
import { cleanEnv, projectRoot } from '../helpers/cli.js';
import { makeReleaseRepo } from '../helpers/repo.js';
import { makeRun } from '../helpers/runs.js';
import { startCheckerS3 } from '../helpers/s3.js';

const script = join(projectRoot, 'examples/airflow/modelship-handoff.sh');

function handoff(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', [script, ...args], { env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

t.test('the DAG\'s last task registers the run and opens the staging pull request', async (t) => {
  const s3 = await startCheckerS3({ seedArtifacts: false });
  t.teardown(() => s3.stop());
  const gh = await startGitHub({ owner: 'acmerisk', repo: 'model-releases', token: 'ghs_airflow', teams: { '@acmerisk/fraud-ml-leads': ['lena'], '@acmerisk/model-risk': ['omar'] } });
  t.teardown(() => gh.stop());
  const repo = makeReleaseRepo();
  t.teardown(repo.cleanup);
  const run = makeRun();
  const env = {
    ...s3.env, MODELSHIP: `${process.execPath} ${join(projectRoot, 'dist/cli.js')}`, RELEASE_DIR: repo.root,
    GITHUB_TOKEN: 'ghs_airflow', GITHUB_API_URL: gh.url, GITHUB_REPOSITORY: 'acmerisk/model-releases',
  };
  const r = await handoff([run.dir, 'staging', 'weekly retrain 2026-11-23'], env);
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.match(r.stdout, /^registered fraud-detector@2026\.11\.20-1$/m);
  t.match(r.stdout, /pull request #1 opened: https:\/\/github\.com\/acmerisk\/model-releases\/pull\/1/);
  const pr = gh.state.pull(1)!;
  t.match(pr.title, /^promote\(staging\): fraud-detector .*2026\.11\.20-1/);
  t.match(pr.body, /weekly retrain 2026-11-23/);
  t.ok(s3.requests.some((q) => q.operation === 'PutObject' || q.operation === 'CompleteMultipartUpload'), 'the artifact went to the registry');
  t.notMatch(r.stdout + r.stderr, /ghs_airflow/, 'the token is never printed');

  const bad = await handoff([join(run.dir, 'missing'), 'staging'], env);
  t.equal(bad.code, 1, 'a run that is not there: register refuses it, and the script stops there');
  t.match(bad.stderr, /missing is not a folder/, bad.stdout + bad.stderr);
  t.equal(gh.state.pulls().length, 1);
});

t.test('the DAG file is valid Python', { skip: spawnSync('python3', ['--version']).status !== 0 ? 'python3 is not installed' : false }, async (t) => {
  const r = spawnSync('python3', ['-c', 'import ast,sys; ast.parse(open(sys.argv[1]).read())', join(projectRoot, 'examples/airflow/fraud_detector_training.py')], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
});
