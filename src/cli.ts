// `sandbox-procs`: thin on purpose. It parses flags and calls the contract engine.
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ProviderName } from './errors.js';
import { ansi, plain, renderTable, summarize, toJson } from './contract/report.js';
import { runScenarios, startPrismTarget, type RunningTarget } from './contract/run.js';
import { providers, scenariosFor } from './contract/scenarios.js';
import { packageRoot } from './specs.js';

export const EXIT = { ok: 0, failed: 1, cannotRun: 2 } as const;

const HELP = `sandbox-procs: typed process management for Tensorlake and HopX sandboxes

Usage:
  sandbox-procs check [--provider NAME]... [--json]
  sandbox-procs --help | --version

Commands:
  check   Start Prism mocks of the bundled specs and run every contract scenario
          through the typed client. Exit 0 when all pass, 1 when any fails,
          2 when the check cannot run.

Options:
  -p, --provider NAME   Only this provider (${providers.join(', ')}); repeatable.
      --json            Print the results as JSON instead of a table.
  -h, --help            Show this help.
  -v, --version         Show the version.
`;

export interface Io {
  out(text: string): void;
  err(text: string): void;
  color: boolean;
}

const processIo: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  color: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR,
};

class UsageError extends Error {}

function parseProviders(values: string[] | undefined): ProviderName[] {
  if (!values || values.length === 0) return providers;
  for (const value of values) {
    if (!providers.includes(value as ProviderName)) throw new UsageError(`unknown provider "${value}" (choose from ${providers.join(', ')})`);
  }
  return providers.filter((p) => values.includes(p));
}

async function check(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      provider: { type: 'string', short: 'p', multiple: true },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    io.out(HELP);
    return EXIT.ok;
  }
  const selected = parseProviders(values.provider);
  const scenarios = scenariosFor(selected);
  const wallStart = performance.now();

  // Installed before Prism starts: an interrupt at any point stops what is running.
  // Mocks still starting are killed by prism.ts's exit hook when we exit.
  let running: RunningTarget | undefined;
  const stopOnSignal = (signal: NodeJS.Signals) => {
    io.err(`\nInterrupted (${signal}); stopping Prism mocks.\n`);
    void (running?.stop() ?? Promise.resolve()).finally(() => process.exit(128 + constants.signals[signal]));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);

  io.err(`Starting Prism mocks for ${selected.join(', ')}...\n`);
  try {
    running = await startPrismTarget(selected);
  } catch (error) {
    process.off('SIGINT', stopOnSignal);
    process.off('SIGTERM', stopOnSignal);
    io.err(`error: could not start Prism: ${(error as Error).message}\n`);
    return EXIT.cannotRun;
  }

  try {
    io.err(`Prism ready in ${((performance.now() - wallStart) / 1000).toFixed(1)} s; running ${scenarios.length} scenarios\n`);
    const results = await runScenarios(scenarios, running.target);
    const summary = summarize(results, performance.now() - wallStart);
    if (values.json) {
      io.out(`${JSON.stringify({ ...toJson(results), summary }, null, 2)}\n`);
    } else {
      const style = io.color ? ansi : plain;
      io.out(`${renderTable(results, style)}\n\n${results.every((r) => r.passed) ? style.pass(summary) : style.fail(summary)}\n`);
    }
    return results.every((r) => r.passed) ? EXIT.ok : EXIT.failed;
  } finally {
    process.off('SIGINT', stopOnSignal);
    process.off('SIGTERM', stopOnSignal);
    await running.stop();
  }
}

function version(): string {
  return (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
}

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'check':
        return await check(rest, io);
      case '-v':
      case '--version':
        io.out(`${version()}\n`);
        return EXIT.ok;
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        io.out(HELP);
        return command === undefined ? EXIT.cannotRun : EXIT.ok;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (error) {
    const isUsage = error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    io.err(`error: ${(error as Error).message}\n${isUsage ? 'Run `sandbox-procs --help` for usage.\n' : ''}`);
    return EXIT.cannotRun;
  }
}
