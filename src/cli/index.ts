import { parseArgs, type ParseArgsConfig } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { clientTracing } from '../tracing';
import { dataConverterFor, loadCodecConfig } from '../codec';
import { connectionOptions, loadClientConfig, type TemporalConfig } from '../config';
import { isReachable } from '../reachable';
import type { CommandContext, CommandSpec, Flags, OptionSpec } from './command';
import { commands } from './commands';
import { describeCliError, ExitCode, ServerUnreachableError, UsageError } from './errors';
import type { CliIo } from './io';

export { commands } from './commands';
export type { CommandSpec } from './command';
export { ExitCode, describeCliError } from './errors';
export { processIo, type CliIo } from './io';
export { renderStatus, stepsTable } from './status-screen';
export { candidateWorkflowIds, resolveSaga } from './saga-ref';

/** The program name the help shows. */
export const PROGRAM = 'saga-client';

/** Flags every command takes. */
const commonOptions: OptionSpec[] = [
  { name: 'json', type: 'boolean', doc: 'Machine-readable output (JSON on stdout; errors as {"error": …} too)' },
  { name: 'address', type: 'string', arg: '<host:port>', doc: 'Temporal frontend (overrides TEMPORAL_ADDRESS, default localhost:7233)' },
  { name: 'namespace', type: 'string', arg: '<name>', doc: 'Namespace (overrides TEMPORAL_NAMESPACE, default "default")' },
  { name: 'help', type: 'boolean', short: 'h', doc: 'Show this help' },
];

function optionsConfig(spec: CommandSpec): NonNullable<ParseArgsConfig['options']> {
  return Object.fromEntries(
    [...spec.options, ...commonOptions].map((o) => [o.name, { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) }]),
  );
}

function optionLines(options: readonly OptionSpec[]): string[] {
  const heads = options.map((o) => `${o.short ? `-${o.short}, ` : '    '}--${o.name}${o.arg ? ` ${o.arg}` : ''}`);
  const width = Math.max(...heads.map((h) => h.length));
  return heads.map((h, i) => `  ${h.padEnd(width)}  ${options[i]?.doc ?? ''}`);
}

/** The `--help` text of one command. */
export function commandHelp(spec: CommandSpec): string {
  return [
    `Usage: ${PROGRAM} ${spec.name}${spec.args.length ? ` ${spec.args.join(' ')}` : ''} [options]`,
    '',
    spec.summary,
    ...(spec.details?.length ? ['', ...spec.details] : []),
    '',
    'Options:',
    ...optionLines([...spec.options, ...commonOptions]),
    '',
  ].join('\n');
}

/** The help listing every command. */
export function generalHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    `Usage: ${PROGRAM} <command> [options]`,
    '',
    'Starts and inspects the order and registration sagas on Temporal.',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    `Run \`${PROGRAM} <command> --help\` for its options. Every command takes --json.`,
    'Configuration comes from the environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE,',
    'TEMPORAL_UI_URL, TEMPORAL_TLS*, TEMPORAL_API_KEY (see docs/running.md).',
    `Exit codes: 0 done, 1 refused or failed, 2 bad usage/input/config, 3 server unreachable, 4 no such saga.`,
    '',
  ].join('\n');
}

function parseCommandLine(spec: CommandSpec, args: readonly string[]): { flags: Flags; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: [...args], options: optionsConfig(spec), allowPositionals: true, strict: true });
    return { flags: values as Flags, positionals };
  } catch (err) {
    // parseArgs explains itself well but at length ("To specify a positional argument starting with…"): keep its first sentence.
    const message = (err instanceof Error ? err.message : String(err)).split('. ')[0]?.replace(/\.$/, '') ?? 'invalid arguments';
    throw new UsageError(message, spec.name);
  }
}

async function connect(config: TemporalConfig): Promise<Connection> {
  // A quick TCP probe first: a refused connection should fail now, not after the gRPC connect timeout.
  if (!(await isReachable(config.address, 2_000))) throw new ServerUnreachableError(config.address);
  try {
    return await Connection.connect({ ...connectionOptions(config), connectTimeout: '5 seconds' });
  } catch {
    throw new ServerUnreachableError(config.address);
  }
}

/**
 * Runs one client command line (`argv` without the program name) and returns the exit code. Output
 * goes to `io`; every error becomes one line on stderr, never a stack trace.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const wantsJson = argv.includes('--json');
  let connection: Connection | undefined;
  try {
    const [name, ...rest] = argv;
    if (name === undefined || name === '--help' || name === '-h' || (name === 'help' && rest.length === 0)) {
      io.stdout(generalHelp());
      return ExitCode.OK;
    }
    const spec = commands.find((c) => c.name === (name === 'help' ? rest[0] : name));
    if (!spec) throw new UsageError(`unknown command "${name === 'help' ? rest[0] : name}"`);
    if (name === 'help') {
      io.stdout(commandHelp(spec));
      return ExitCode.OK;
    }
    const { flags, positionals } = parseCommandLine(spec, rest);
    if (flags.help) {
      io.stdout(commandHelp(spec));
      return ExitCode.OK;
    }
    if (positionals.length < spec.args.length) throw new UsageError(`missing ${spec.args.slice(positionals.length).join(' ')}`, spec.name);
    if (positionals.length > spec.args.length) throw new UsageError(`unexpected argument "${positionals[spec.args.length]}"`, spec.name);

    const env = { ...io.env };
    if (typeof flags.address === 'string') env.TEMPORAL_ADDRESS = flags.address;
    if (typeof flags.namespace === 'string') env.TEMPORAL_NAMESPACE = flags.namespace;
    const config = loadClientConfig(env);
    // Read with the rest of the configuration: bad keys are reported before anything connects.
    const dataConverter = dataConverterFor(loadCodecConfig(env));
    let client: Client | undefined;
    const ctx: CommandContext = {
      io,
      json: flags.json === true,
      config,
      async client() {
        connection ??= await connect(config);
        client ??= new Client({ connection, namespace: config.namespace, ...(dataConverter ? { dataConverter } : {}), ...clientTracing(env) });
        return client;
      },
    };
    return await spec.run(ctx, flags, positionals);
  } catch (err) {
    const { message, exitCode } = describeCliError(err);
    io.stderr(`${PROGRAM}: ${message}\n`);
    if (wantsJson) io.stdout(`${JSON.stringify({ error: { message, exitCode } })}\n`);
    return exitCode;
  } finally {
    await connection?.close();
  }
}
