// `modelship register <dir | s3://bucket/prefix/>`: store a training run's artifact and write its manifest.

import { ExitCode } from '../errors.js';
import { register } from '../registry/register.js';
import { registrant, registrationClock } from '../registry/registrant.js';
import { ArtifactStore, s3Client } from '../adapters/s3/store.js';
import { formatBytes } from '../config/yaml.js';
import { commandOptions, repoRoot } from './context.js';
import { printError, type Output } from './output.js';

interface Options { version?: string; concurrency: number; partSize: number; json?: boolean }

export async function run(args: unknown[], output: Output): Promise<number> {
  const source = args[0] as string;
  const opts = commandOptions<Options>(args);
  const controller = new AbortController();
  const onSignal = () => {
    output.err('\ninterrupted: aborting the upload...');
    controller.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const client = s3Client();
  try {
    const root = repoRoot(opts.repo);
    const started = Date.now();
    const result = await register({
      root, source, partSize: opts.partSize, concurrency: opts.concurrency, signal: controller.signal,
      registeredBy: await registrant(root),
      onNotice: (message) => output.err(`note: ${message}`),
      now: registrationClock(),
      onProgress: (p) => {
        const secs = Math.max((Date.now() - started) / 1000, 0.001);
        output.progress(`uploading ${formatBytes(p.bytes)} / ${formatBytes(p.total)} (${Math.round((100 * p.bytes) / Math.max(p.total, 1))}%, ${formatBytes(p.bytes / secs)}/s)`);
      },
      ...(opts.version !== undefined ? { version: opts.version } : {}),
    }, new ArtifactStore(client));
    output.progress('');
    if (opts.json) {
      output.out(JSON.stringify({ ok: true, ...result }, null, 2));
    } else {
      for (const w of result.warnings) output.err(`warning: ${w}`);
      if (result.status === 'unchanged') {
        output.out(`${result.model}@${result.version} is already registered with this artifact; nothing to do`);
      } else {
        const how = { uploaded: 'uploaded', copied: 'copied within S3', 'already-stored': 'already in the registry' }[result.artifact.transfer];
        output.out(`registered ${result.model}@${result.version}`);
        output.out(`  artifact  ${result.artifact.uri} (${formatBytes(result.artifact.size)}, ${how}, sha256 verified)`);
        output.out(`  sha256    ${result.artifact.sha256}`);
        output.out(`  report    ${result.validationReport.uri}`);
        output.out(`  manifest  ${result.manifest}`);
        if (result.registration) output.out(`  recorded  ${result.registration.uri}`);
        output.out(`next: modelship promote ${result.model}@${result.version} --to <environment> --open-pr`);
      }
    }
    return ExitCode.ok;
  } catch (e) {
    return printError(e, output, !!opts.json);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    client.destroy();
  }
}
