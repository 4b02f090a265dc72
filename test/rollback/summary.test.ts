// The rollback pull request and the break-glass review issue are Markdown built around git data
// (the subject of the commit undone, the reason, the actor): escaped, nothing renders or pings
// except the actor the issue means to mention.
import t from 'tap';
import { breakGlassIssue, rollbackBody, rollbackMessage, type RollbackSummaryInput } from '../../src/rollback/summary.js';
import type { RollbackPlan } from '../../src/rollback/plan.js';

const subject = 'Merge <img src=x onerror=alert(1)> cc @acmerisk/model-risk [see](https://evil) a|b';
const plan = {
  environment: 'production', model: 'fraud-detector', kind: 'rollback', from: { version: '2026.11.20-1' }, to: { version: '2026.11.06-1' },
  takenAway: '2026.11.20-1', commit: { sha: 'a'.repeat(40), subject, at: new Date('2026-11-20T10:00:00Z'), move: 'promote' },
} as unknown as RollbackPlan;
const input: RollbackSummaryInput = { plan, how: 'revert', reason: 'INC-1 @ada says `rm -rf`', by: 'modelship rollback' };

t.test('the pull request body escapes the subject and the reason', async (t) => {
  const body = rollbackBody(input);
  t.notMatch(body, '<img');
  t.match(body, '\nRevert "Merge &lt;img src=x onerror=alert(1)&gt; cc @&#8203;acmerisk/model-risk &#91;see&#93;(https&#8203;://evil) a&#124;b".\n');
  t.match(body, '\n**Reason:** INC-1 @&#8203;ada says &#96;rm -rf&#96;\n');
  t.match(body, '<sub>Opened by `modelship rollback`.');
});

t.test('the commit message is git text, not Markdown: the subject as written', async (t) => {
  t.match(rollbackMessage(input), `Revert "${subject}".`);
});

t.test('the break-glass issue mentions its actor, a login, and nothing else', async (t) => {
  const issue = breakGlassIssue({ ...input, breakGlass: 'prod down @acmerisk/model-risk', commit: 'b'.repeat(40), actor: 'ada' });
  t.match(issue.body, /^@ada pushed a break-glass rollback straight to the default branch, without review\.\n/);
  t.match(issue.body, '\n- reason: prod down @&#8203;acmerisk/model-risk\n');
  t.match(issue.body, '\n- undoes: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa "Merge &lt;img src=x onerror=alert(1)&gt; cc @&#8203;acmerisk/model-risk &#91;see&#93;(https&#8203;://evil) a&#124;b"\n');
  const spoofed = breakGlassIssue({ ...input, commit: 'b'.repeat(40), actor: 'ada @acmerisk/model-risk' });
  t.match(spoofed.body, /^ada @&#8203;acmerisk\/model-risk pushed a break-glass rollback/, 'an actor that is not a login is text');
});
