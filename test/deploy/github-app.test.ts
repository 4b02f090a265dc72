// deploy/github-app.json, the GitHub App manifest (docs.github.com/apps/sharing-github-apps/
// registering-a-github-app-from-a-manifest): only the manifest's parameters, the permissions the
// checker and the in-cluster agent use, and the events serve handles, push included.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { projectRoot } from '../helpers/cli.js';

const manifest = JSON.parse(readFileSync(join(projectRoot, 'deploy/github-app.json'), 'utf8')) as Record<string, unknown>;
const parameters = ['name', 'url', 'hook_attributes', 'redirect_url', 'callback_urls', 'setup_url', 'description', 'public',
  'default_events', 'default_permissions', 'request_oauth_on_install', 'setup_on_update'];

t.test('the App manifest uses only GitHub\'s manifest parameters', async (t) => {
  t.same(Object.keys(manifest).filter((k) => !parameters.includes(k)), []);
  t.match(manifest.hook_attributes, { url: /\/webhooks$/, active: true });
  t.equal(manifest.public, false);
});

t.test('permissions: what the checker and the agent use, no more', async (t) => {
  t.same(manifest.default_permissions, {
    checks: 'write',          // the modelship check run
    pull_requests: 'write',   // the report comment; rollback and canary pull requests
    issues: 'write',          // the drift issue
    contents: 'write',        // the mirror fetch; revert branches for rollback pull requests
    deployments: 'write',     // a GitHub deployment per environment synced
    metadata: 'read',
    members: 'read',          // team approvals
    merge_queues: 'read',
  });
});

t.test('events: the pull request gates and the push that deploys', async (t) => {
  t.same(manifest.default_events, ['pull_request', 'pull_request_review', 'merge_group', 'check_run', 'check_suite', 'push']);
});
