// Which push deliveries reach the agent (src/serve/events.ts route), on GitHub's published push
// payload: only a push that moves the release branch of the release repository to a commit.
import t from 'tap';
import { route } from '../../src/serve/events.js';
import { example, inRepository } from '../helpers/webhooks.js';

const target = { owner: 'acmerisk', repo: 'model-releases', cloneUrl: 'https://github.com/acmerisk/model-releases.git', installationId: 9000 };
const after = 'a'.repeat(40);
const push = (o: Record<string, unknown> = {}) => Object.assign(inRepository(example('push'), target), { ref: 'refs/heads/main', after, deleted: false }, o);
const release = { repository: { owner: 'acmerisk', repo: 'model-releases' } };

t.test('a push to the default branch of the release repository goes to the agent, with the installation and clone URL', async (t) => {
  t.same(route('push', push(), 4242, 'd1', release), {
    push: { installationId: 9000, repo: { owner: 'acmerisk', repo: 'model-releases' }, cloneUrl: target.cloneUrl, ref: 'refs/heads/main', after, delivery: 'd1' },
  });
  // GitHub names are case-insensitive
  t.ok('push' in route('push', push(), 4242, 'd1', { repository: { owner: 'AcmeRisk', repo: 'Model-Releases' } }));
});

t.test('a configured release branch is the one that counts, not the default branch', async (t) => {
  const branch = { ...release, branch: 'release' };
  t.same(route('push', push(), 4242, 'd', branch), { ignored: 'push to main in acmerisk/model-releases, not the release branch release' });
  t.ok('push' in route('push', push({ ref: 'refs/heads/release' }), 4242, 'd', branch));
});

t.test('the rest is ignored with the reason', async (t) => {
  t.same(route('push', push({ after: 'HEAD' }), 4242, 'd', release), { ignored: 'push to main in acmerisk/model-releases names no commit (after: "HEAD")' });
  t.same(route('push', push({ ref: undefined }), 4242, 'd', release), { ignored: 'push of no ref in acmerisk/model-releases: not a branch' });
  t.same(route('push', push(), 4242, 'd'), { ignored: 'push' }, 'without the agent role');
  const noRepository = push();
  delete noRepository.installation;
  delete noRepository.repository;
  t.same(route('push', noRepository, 4242, 'd', release), { ignored: 'push names no installation and repository' });
});

t.test('a push from a repository webhook (no installation: one App has one webhook URL, a second cluster\'s agent gets pushes this way) still reaches the agent, by the same rules', async (t) => {
  const hook = push();
  delete hook.installation;
  t.same(route('push', hook, 4242, 'd2', release), {
    push: { repo: { owner: 'acmerisk', repo: 'model-releases' }, cloneUrl: target.cloneUrl, ref: 'refs/heads/main', after, delivery: 'd2' },
  });
  const elsewhere = push({ ref: 'refs/heads/feature' });
  delete elsewhere.installation;
  t.same(route('push', elsewhere, 4242, 'd', release), { ignored: 'push to feature in acmerisk/model-releases, not the release branch main' });
  const pull = inRepository(example('pull_request'), target);
  delete pull.installation;
  t.same(route('pull_request', pull, 4242, 'd', release), { ignored: `pull_request.${pull.action} names no installation and repository` }, 'only pushes: the checker acts as the App');
});
