// `modelship serve --environments` as a user runs it (dist/cli.js in its own process, flags from
// the environment, the holder from POD_NAME): ready once the release branch is fetched, production
// converged by the leader, and SIGTERM gives the lease back before a clean exit.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startGitHub } from '../../tools/sandbox/github/server.js';
import { cleanEnv, projectRoot } from '../helpers/cli.js';
import { appInfo, keys, name, owner, production, until } from '../helpers/agent.js';
import { stage } from '../helpers/stage.js';

t.test('serve with the agent role: ready, converged, lease released on SIGTERM', async (t) => {
  const s = await stage(t);
  const origin = join(s.root, '..', 'origin.git');
  const gh = await startGitHub({ owner, repo: name, cloneUrl: origin, apps: [{ ...appInfo, publicKey: keys.publicKey }] });
  const dir = mkdtempSync(join(tmpdir(), 'modelship-agent-serve-'));
  t.teardown(async () => {
    await gh.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  writeFileSync(join(dir, 'app.pem'), keys.privateKey);
  writeFileSync(join(dir, 'secret'), 'whsec\n');
  const child = spawn(process.execPath, [join(projectRoot, 'dist/cli.js'), 'serve', '--listen', '127.0.0.1:0', '--mirror-dir', join(dir, 'mirrors')], {
    env: cleanEnv({
      ...s.env, MODELSHIP_GITHUB_APP_ID: String(appInfo.id), MODELSHIP_GITHUB_PRIVATE_KEY_FILE: join(dir, 'app.pem'), MODELSHIP_WEBHOOK_SECRET_FILE: join(dir, 'secret'),
      MODELSHIP_GITHUB_API_URL: gh.url, MODELSHIP_ENVIRONMENTS: 'production', MODELSHIP_REPOSITORY: `${owner}/${name}`, MODELSHIP_LEASE_DURATION: '5s',
      MODELSHIP_ROLES: 'agent', POD_NAME: 'modelship-7d9f-abcde',
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => void (child.exitCode === null && child.kill('SIGKILL')));
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  await until('listening', () => /webhooks at http:\/\//.test(stderr) || child.exitCode !== null);
  const url = /webhooks at (http:\/\/[^\s,]+)\/webhooks/.exec(stderr)?.[1];
  t.ok(url, stderr);
  t.match(stderr, /modelship serve \(agent of production\): webhooks at/);
  t.equal((await fetch(`${url}/healthz`)).status, 200);
  await until('ready', () => /agent acmerisk\/model-releases: ready: main fetched/.test(stderr));
  t.equal((await fetch(`${url}/readyz`)).status, 200);
  const main = s.git('rev-parse', 'main').trim();
  await until('production converged', () => production({ s }).length === 2 && /production: converged at/.test(stderr));
  t.same(production({ s }).map((o) => o.commit), [main, main]);
  t.match(s.kube.get('coordination.k8s.io/v1', 'Lease', 'ml-serving', 'modelship-production'), { spec: { holderIdentity: 'modelship-7d9f-abcde', leaseDurationSeconds: 5 } });
  child.kill('SIGTERM');
  t.equal(await exited, 0, stderr);
  t.notOk(s.kube.get('coordination.k8s.io/v1', 'Lease', 'ml-serving', 'modelship-production')!.spec.holderIdentity, 'the lease was released');
});
