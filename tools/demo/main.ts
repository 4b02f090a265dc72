// `npm run demo [-- --keep] [-- --dir DIR]`: the whole release lifecycle, locally, against stand-ins
// started for it (tools/sandbox/), with the real `modelship` commands from dist/. Offline, under a
// minute; every process it starts is stopped when it ends, fails or is interrupted (Ctrl-C).
// Part of the private tools workspace: it is never shipped with the product.

import { ExitCode, ModelshipError } from '../../src/errors.js';

export interface Options { keep?: boolean; dir?: string }
export interface Output { out(line: string): void; err(line: string): void }

export async function run(opts: Options, output: Output): Promise<number> {
  const started = Date.now();
  // The AWS SDK's notice about Node 20 support ending in 2027 is not news to a demo audience.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const { createWorld, removeWorld } = await import('./world.js');
  const { tellStory } = await import('./story.js');
  const secs = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  output.out('modelship demo: the release lifecycle of a fraud model, on stand-ins started for it (nothing leaves this machine)\n');
  const world = await createWorld(opts.dir ? { dir: opts.dir } : {});
  let interrupted = false;
  const stop = new AbortController();
  const onSignal = () => {
    interrupted = true;
    output.err('\ninterrupted: stopping the running command and the stand-ins');
    stop.abort();
    void world.close().finally(() => {
      if (!opts.keep) removeWorld(world.dir);
      process.exit(ExitCode.interrupted);
    });
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const result = await tellStory(world, {
      step: (n, total, title) => output.out(`\n[${n}/${total}] ${title}   (${secs()})`),
      command: (line, text) => output.out(`  $ ${line}\n${text ? text.split('\n').map((l) => `    ${l}`).join('\n') : ''}`),
      say: (line) => output.out(`  ${line}`),
    }, stop.signal);
    output.out([
      '',
      `Done in ${secs()}. ${opts.keep ? 'Kept' : 'Everything was in'} ${world.dir}${opts.keep ? ':' : ' (removed; run with --keep to look around):'}`,
      `  the production check report   ${result.files.report}`,
      `  the status dashboard          ${result.files.dashboard}`,
      `  the audit trail               ${result.files.audit}`,
      `  what serve and its agent did  ${result.files.log}`,
      `  every command and its output  ${result.files.transcript}`,
      `  the release repository        ${world.repo}`,
    ].join('\n'));
    return ExitCode.ok;
  } catch (e) {
    if (interrupted) return ExitCode.interrupted;
    output.err(`demo failed: ${e instanceof Error ? e.message : String(e)}`);
    output.err(`(its folder is kept for a look: ${world.dir})`);
    opts.keep = true;
    return e instanceof ModelshipError ? e.exitCode : ExitCode.internal;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await world.close();
    if (!opts.keep && !interrupted) removeWorld(world.dir);
  }
}
