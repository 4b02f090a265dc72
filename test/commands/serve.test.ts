// `modelship serve` as a user runs it: flags and their errors, and a real process that listens,
// answers its probes and stops cleanly on SIGTERM.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startGitHub } from '../../tools/sandbox/github/server.js';
import { cleanEnv, projectRoot, runCli } from '../helpers/cli.js';
import { appKeys } from '../helpers/webhooks.js';

const keys = appKeys();
const dir = mkdtempSync(join(tmpdir(), 'modelship-serve-cmd-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'app.pem'), keys.privateKey);
writeFileSync(join(dir, 'secret'), 'whsec\n');

t.test('flags: what is missing or wrong is a usage error naming the flag', async (t) => {
  const missing = await runCli(['serve']);
  t.equal(missing.code, 2);
  t.match(missing.stderr, /--app-id is required \(or its environment variable; see modelship serve --help\)/);
  const bad = await runCli(['serve', '--app-id', 'x', '--private-key-file', join(dir, 'app.pem'), '--webhook-secret-file', join(dir, 'secret')]);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /--app-id expects a positive whole number, found "x"/);
  const noKey = await runCli(['serve'], { env: { MODELSHIP_GITHUB_APP_ID: '42', MODELSHIP_GITHUB_PRIVATE_KEY_FILE: join(dir, 'nope.pem') } });
  t.equal(noKey.code, 2);
  t.match(noKey.stderr, new RegExp(`--private-key-file: cannot read ${join(dir, 'nope.pem')}`));
});

t.test('a key that is not the App\'s: exit 3 with what to check', async (t) => {
  const gh = await startGitHub({ owner: 'acmerisk', repo: 'model-releases', apps: [{ id: 42, slug: 'modelship-acme', publicKey: appKeys().publicKey }] });
  t.teardown(() => gh.stop());
  const r = await runCli(['serve', '--app-id', '42', '--private-key-file', join(dir, 'app.pem'), '--webhook-secret-file', join(dir, 'secret'), '--github-api-url', gh.url, '--listen', '127.0.0.1:0']);
  t.equal(r.code, 3);
  t.match(r.stderr, /authenticate as GitHub App 42.*A JSON web token could not be decoded/s);
});

t.test('the process listens, answers its probes and stops on SIGTERM', async (t) => {
  const gh = await startGitHub({ owner: 'acmerisk', repo: 'model-releases', apps: [{ id: 42, slug: 'modelship-acme', publicKey: keys.publicKey }] });
  t.teardown(() => gh.stop());
  const child = spawn(process.execPath, [join(projectRoot, 'dist/cli.js'), 'serve', '--listen', '127.0.0.1:0', '--mirror-dir', join(dir, 'mirrors')], {
    env: cleanEnv({ MODELSHIP_GITHUB_APP_ID: '42', MODELSHIP_GITHUB_PRIVATE_KEY_FILE: join(dir, 'app.pem'), MODELSHIP_WEBHOOK_SECRET_FILE: join(dir, 'secret'), MODELSHIP_GITHUB_API_URL: gh.url }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => void (child.exitCode === null && child.kill('SIGKILL')));
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /webhooks at (http:\/\/[^\s,]+)\/webhooks/.exec(stderr);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
  });
  t.match(stderr, /authenticated as GitHub App modelship-acme \(id 42\)/);
  t.equal((await fetch(`${url}/healthz`)).status, 200);
  t.equal((await fetch(`${url}/readyz`)).status, 200);
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  t.equal(await exited, 0);
  t.match(stderr, /SIGTERM: finishing running evaluations \(up to 30 s\)\n.*stopped; 0 queued evaluations dropped/s);
});
