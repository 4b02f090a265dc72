// model/escape.ts: values from data on their way into Markdown for GitHub, HTML and terminals.
// Exact outputs: each technique is one GitHub is known to honour (see the module's header).
import t from 'tap';
import { commentJson, htmlText, mdCode, mdFence, mdLink, mdText, mermaidLabel, terminalText } from '../../src/model/escape.js';

t.test('mdText: no tag, link, autolink, mention, reference, table border or block comes out of data', async (t) => {
  const cases: Array<[string, string]> = [
    ['<img src=x onerror=alert(1)>', '&lt;img src=x onerror=alert(1)&gt;'],
    ['@acmerisk/model-risk', '@&#8203;acmerisk/model-risk'],
    ['ping @ada and mail ada@example.com', 'ping @&#8203;ada and mail ada@&#8203;example.com'],
    ['[click](https://evil)', '&#91;click&#93;(https&#8203;://evil)'],
    ['![x](https://evil/p.png)', '!&#91;x&#93;(https&#8203;://evil/p.png)'],
    ['<https://evil>', '&lt;https&#8203;://evil&gt;'],
    ['see www.evil.com or WWW.evil.com', 'see www&#8203;.evil.com or WWW&#8203;.evil.com'],
    ['a|b', 'a&#124;b'],
    ['fixes #12, not a#b', 'fixes #&#8203;12, not a#b'],
    ['`code` *em* _em_ ~~del~~ $x$ \\', '&#96;code&#96; &#42;em&#42; &#95;em&#95; &#126;&#126;del&#126;&#126; &#36;x&#36; &#92;'],
    ['false_positive_rate', 'false_positive_rate'],
    ['AT&T &amp; co', 'AT&amp;T &amp;amp; co'],
    ['line one\nline two\r\n\tthree', 'line one line two&#92;u000d three'],
    ['# heading', '&#35; heading'],
    ['- item', '&#45; item'],
    ['---', '&#45;--'],
    ['1. item', '1&#46; item'],
    ['-0.5 and 2026.11.20-1', '-0.5 and 2026.11.20-1'],
    ['bidi \u202eevil\u202c and \x1b[2J', 'bidi &#92;u202eevil&#92;u202c and &#92;u001b&#91;2J'],
  ];
  for (const [input, want] of cases) t.equal(mdText(input), want, JSON.stringify(input));
  t.equal(mdText(42), '42', 'numbers as they are');
});

t.test('mdCode: a code span no backtick can close; pipes escaped in tables', async (t) => {
  t.equal(mdCode('main'), '`main`');
  t.equal(mdCode('feature/`x`'), '`` feature/`x` ``', 'padded on both sides, which CommonMark strips');
  t.equal(mdCode('a``b'), '```a``b```');
  t.equal(mdCode('`x'), '`` `x ``');
  t.equal(mdCode('@acmerisk/model-risk <b>'), '`@acmerisk/model-risk <b>`', 'nothing renders inside a code span');
  t.equal(mdCode('a|b'), '`a|b`');
  t.equal(mdCode('a|b', { table: true }), '`a\\|b`');
  t.equal(mdCode('two\nlines\x1b[0m'), '`two lines\\u001b[0m`');
});

t.test('mdFence: no line of data can close the block', async (t) => {
  t.same(mdFence(['+ a', '```', 'b'], 'diff'), ['````diff', '+ a', '```', 'b', '````']);
  t.same(mdFence(['x\ny']), ['```', 'x', 'y', '```']);
});

t.test('mdLink: https only, the destination cannot be ended early', async (t) => {
  t.equal(mdLink('run 7', 'https://ci.example/run?id=7'), '[run 7](<https://ci.example/run?id=7>)');
  t.equal(mdLink('run', 'https://x/a)[b](c<d>|'), '[run](<https://x/a%29%5Bb%5D%28c%3Cd%3E%7C>)');
  t.equal(mdLink('run', 'https://x/a b'), 'run', 'no space in a URL');
  t.equal(mdLink('run', 'javascript:alert(1)'), 'run');
  t.equal(mdLink('[x](y)', undefined), '&#91;x&#93;(y)');
});

t.test('commentJson: no value closes the hidden comment; JSON.parse reads the same data', async (t) => {
  const value = { slice: '--> <img src=x>' };
  t.equal(commentJson(value), '{"slice":"--\\u003e \\u003cimg src=x\\u003e"}');
  t.same(JSON.parse(commentJson(value)), value);
});

t.test('mermaidLabel: plain characters only', async (t) => {
  t.equal(mermaidLabel('txn_amount'), 'txn_amount');
  t.equal(mermaidLabel('a"];click A href "javascript:x'), 'a??;click A href ?javascript:x');
});

t.test('htmlText: text and either quote of an attribute', async (t) => {
  t.equal(htmlText(`"><img src=x onerror='alert(1)'> & co`), '&quot;&gt;&lt;img src=x onerror=&#39;alert(1)&#39;&gt; &amp; co');
});

t.test('terminalText: escape sequences, C0/C1 controls and bidi overrides made visible; tabs and newlines kept', async (t) => {
  t.equal(terminalText('clear\x1b[2J\x1b]0;title\x07 done'), 'clear\\u001b[2J\\u001b]0;title\\u0007 done');
  t.equal(terminalText('over\rwrite\bx\x7f\x9b'), 'over\\u000dwrite\\u0008x\\u007f\\u009b');
  t.equal(terminalText('a\u202ab\u202bc\u202cd\u202de\u202ef\u2066g\u2067h\u2068i\u2069'), 'a\\u202ab\\u202bc\\u202cd\\u202de\\u202ef\\u2066g\\u2067h\\u2068i\\u2069');
  t.equal(terminalText('tab\tnew\nline → ✅ é'), 'tab\tnew\nline → ✅ é', 'ordinary text untouched');
  const json = JSON.stringify({ subject: 'fix\u202e\x1b[2J' });
  t.same(JSON.parse(terminalText(json)), { subject: 'fix\u202e\x1b[2J' }, 'JSON stays JSON with the same data');
});
