import { parseArgs, type ParseArgsConfig } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { dataConverterFor, ENCRYPTION_OFF_WARNING, failureConverterPath, loadCodecConfig, loadRemoteCodecConfig, RemotePayloadCodec } from '../codec';
import { ConfigError, configProblems, connectionOptions, loadClientConfig, withConnectionFlags, type TemporalConfig } from '../config';
import { clientTracing } from '../tracing';
import { isReachable } from '../reachable';
import { invokedAs, OUTPUT_FORMATS, type CommandContext, type CommandSpec, type Flags, type OptionSpec, type OutputFormat } from './command';
import { commands } from './commands';
import { describeCliError, ExitCode, ServerUnreachableError, UsageError } from './errors';
import type { CliIo } from './io';
import { terminalSafe, terminalSafeJson } from './terminal-safe';

export { commands } from './commands';
export type { CommandSpec } from './command';
export { ExitCode, describeCliError } from './errors';
export { processIo, type CliIo } from './io';
export { renderStatus, stepsTable } from './status-screen';
export { candidateWorkflowIds, resolveSaga } from './saga-ref';

/** The program name the help shows. */
export const PROGRAM = 'saga-client';

/** Flags every command takes; the connection flags are named as the `temporal` CLI names them. */
const commonOptions: OptionSpec[] = [
  { name: 'output', type: 'string', short: 'o', arg: '<text|json|jsonl>', doc: 'Output format (default text); errors come as {"error": …} on stdout too under json and jsonl' },
  { name: 'json', type: 'boolean', doc: 'Same as -o json' },
  { name: 'address', type: 'string', arg: '<host:port>', doc: 'Temporal frontend (overrides TEMPORAL_ADDRESS, default localhost:7233)' },
  { name: 'namespace', type: 'string', arg: '<name>', doc: 'Namespace (overrides TEMPORAL_NAMESPACE, default "default")' },
  { name: 'profile', type: 'string', arg: '<name>', doc: 'Profile of the temporal CLI config file (overrides TEMPORAL_PROFILE, default "default")' },
  { name: 'config-file', type: 'string', arg: '<path>', doc: 'The temporal CLI config file (overrides TEMPORAL_CONFIG_FILE)' },
  { name: 'tls', type: 'boolean', doc: 'Connect with TLS (as TEMPORAL_TLS=true)' },
  { name: 'api-key', type: 'string', arg: '<key>', doc: 'API key sent as a bearer token, implies TLS (overrides TEMPORAL_API_KEY)' },
  { name: 'codec-endpoint', type: 'string', arg: '<url>', doc: 'Encode and decode payloads through this codec server (overrides TEMPORAL_CODEC_ENDPOINT)' },
  { name: 'codec-auth-file', type: 'string', arg: '<path>', doc: 'File holding the codec server token, or its Authorization header value (overrides TEMPORAL_CODEC_AUTH_FILE; else TEMPORAL_CODEC_AUTH)' },
  { name: 'help', type: 'boolean', short: 'h', doc: 'Show this help' },
];

/** Flags of the commands that take a saga `<id>`: the `temporal` CLI's way of naming a workflow and its run. */
const sagaRefOptions: OptionSpec[] = [
  { name: 'workflow-id', type: 'string', short: 'w', arg: '<id>', doc: 'The workflow id, exactly (instead of <id>)' },
  { name: 'run-id', type: 'string', short: 'r', arg: '<id>', doc: 'The run to target (default: the latest run)' },
];

function takesSagaRef(spec: CommandSpec): boolean {
  return spec.args[0] === '<id>' || spec.args[0] === '[<id>]';
}

function optionsOf(spec: CommandSpec): OptionSpec[] {
  return [...spec.options, ...(takesSagaRef(spec) ? sagaRefOptions : []), ...commonOptions];
}

function optionsConfig(spec: CommandSpec): NonNullable<ParseArgsConfig['options']> {
  return Object.fromEntries(
    optionsOf(spec).map((o) => [o.name, { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) }]),
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
    ...optionLines(optionsOf(spec)),
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
    `Run \`${PROGRAM} <command> --help\` for its options. Every command takes -o text|json|jsonl (--json is -o json).`,
    'Commands on one saga take <id>, or -w <workflow id> [-r <run id>] as the temporal CLI does.',
    'Configuration comes from the environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE,',
    'TEMPORAL_UI_URL, TEMPORAL_TLS*, TEMPORAL_API_KEY, TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE,',
    'TEMPORAL_CODEC_ENDPOINT, TEMPORAL_CODEC_AUTH or TEMPORAL_CODEC_AUTH_FILE (see docs/running.md).',
    `Exit codes: 0 done, 1 refused or failed, 2 bad usage/input/config, 3 server or codec server unreachable, 4 no such saga.`,
    '',
  ].join('\n');
}

// The `temporal` CLI takes `--codec-auth "Bearer <token>"`; here that would put the token in the
// process list, and an unquoted value would come back in a usage error. Refused on sight, and the
// message never repeats what follows the flag.
const CODEC_AUTH_IN_ARGV = '--codec-auth would show the codec server token to everyone who can list processes: put it in TEMPORAL_CODEC_AUTH, or in a file named by --codec-auth-file';

function refuseTokenInArgv(args: readonly string[], command: string | undefined): void {
  if (args.some((arg) => arg === '--codec-auth' || arg.startsWith('--codec-auth='))) throw new UsageError(CODEC_AUTH_IN_ARGV, command);
}

// `status -w` meant --watch before -w became the workflow id everywhere; say so to whoever types it.
const WATCH_MOVED = '-w now means --workflow-id, as in the temporal CLI: use --watch to redraw live';

function parseCommandLine(spec: CommandSpec, args: readonly string[]): { flags: Flags; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: [...args], options: optionsConfig(spec), allowPositionals: true, strict: true });
    return { flags: values as Flags, positionals };
  } catch (err) {
    if (spec.name === 'status' && args.includes('-w')) throw new UsageError(WATCH_MOVED, spec.name);
    // parseArgs explains itself well but at length ("To specify a positional argument starting with…"): keep its first sentence.
    const message = (err instanceof Error ? err.message : String(err)).split('. ')[0]?.replace(/\.$/, '') ?? 'invalid arguments';
    throw new UsageError(message, spec.name);
  }
}

/** The output format the flags ask for; `--json` is `-o json`. */
function outputOf(flags: Flags, command: string): OutputFormat {
  const raw = typeof flags.output === 'string' ? flags.output.trim().toLowerCase() : undefined;
  if (raw !== undefined && !(OUTPUT_FORMATS as readonly string[]).includes(raw)) {
    throw new UsageError(`-o/--output must be one of ${OUTPUT_FORMATS.join(', ')} (got "${String(flags.output)}")`, command);
  }
  if (flags.json === true && raw !== undefined && raw !== 'json') throw new UsageError(`--json contradicts -o ${raw}: --json is -o json`, command);
  return flags.json === true ? 'json' : ((raw as OutputFormat | undefined) ?? 'text');
}

/**
 * Whether a command line asks for JSON, read from the raw arguments: errors need to know before (and
 * when) the flags fail to parse.
 */
function wantsJson(argv: readonly string[]): boolean {
  return argv.some((arg, i) => {
    if (arg === '--json') return true;
    const value = arg === '-o' || arg === '--output' ? argv[i + 1] : /^(?:--output=|-o=?)(.+)$/.exec(arg)?.[1];
    return value === 'json' || value === 'jsonl';
  });
}

/** The saga a command names: the positional `<id>`, or `-w`; never both. */
function sagaRef(spec: CommandSpec, flags: Flags, positionals: string[]): string[] {
  const workflowId = typeof flags['workflow-id'] === 'string' ? flags['workflow-id'] : undefined;
  if (workflowId === undefined) return positionals;
  if (positionals.length > 0) {
    throw new UsageError(spec.name === 'status' ? WATCH_MOVED : 'give the saga either as <id> or with -w/--workflow-id, not both', spec.name);
  }
  return [workflowId];
}

/**
 * The client's data converter: local keys (`SAGA_CODEC_KEYS`), or a codec server
 * (`--codec-endpoint`), or none. Read with the rest of the configuration, so bad keys or a bad
 * endpoint are reported before anything connects.
 */
function clientCodec(env: Record<string, string | undefined>, namespace: string): { dataConverter?: DataConverter; remote?: RemotePayloadCodec } {
  const remoteConfig = loadRemoteCodecConfig(env, namespace);
  if (remoteConfig) {
    const remote = new RemotePayloadCodec(remoteConfig);
    return { remote, dataConverter: { payloadCodecs: [remote], failureConverterPath } };
  }
  const dataConverter = dataConverterFor(loadCodecConfig(env));
  return dataConverter ? { dataConverter } : {};
}

/**
 * The client's configuration and codec, read together so that a production run without its secrets
 * lists every missing one at once. Throws {@link ConfigError} with all the problems.
 */
function readConfiguration(env: Record<string, string | undefined>): { config: TemporalConfig; dataConverter?: DataConverter; remote?: RemotePayloadCodec } {
  const { problems, read } = configProblems();
  const config = read(() => loadClientConfig(env));
  const codec = read(() => clientCodec(env, config?.namespace ?? (env.TEMPORAL_NAMESPACE || 'default')));
  if (problems.length || !config || !codec) throw new ConfigError(problems);
  return { config, ...codec };
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
  const jsonErrors = wantsJson(argv);
  let connection: Connection | undefined;
  try {
    const [name, ...rest] = argv;
    if (name === undefined || name === '--help' || name === '-h' || (name === 'help' && rest.length === 0)) {
      io.stdout(generalHelp());
      return ExitCode.OK;
    }
    refuseTokenInArgv(rest, commands.find((c) => c.name === name)?.name);
    const spec = commands.find((c) => c.name === (name === 'help' ? rest[0] : name));
    if (!spec) throw new UsageError(`unknown command "${name === 'help' ? rest[0] : name}"`);
    if (name === 'help') {
      io.stdout(commandHelp(spec));
      return ExitCode.OK;
    }
    const { flags, positionals: given } = parseCommandLine(spec, rest);
    if (flags.help) {
      io.stdout(commandHelp(spec));
      return ExitCode.OK;
    }
    const output = outputOf(flags, spec.name);
    const positionals = takesSagaRef(spec) ? sagaRef(spec, flags, given) : given;
    // An argument shown in brackets (`[<id>]`) may be left out.
    const required = spec.args.filter((a) => !a.startsWith('['));
    if (positionals.length < required.length) throw new UsageError(`missing ${required.slice(positionals.length).join(' ')}`, spec.name);
    if (positionals.length > spec.args.length) throw new UsageError(`unexpected argument "${positionals[spec.args.length]}"`, spec.name);

    const env = withConnectionFlags(io.env, flags);
    const { config, dataConverter, remote } = readConfiguration(env);
    // In production only SAGA_ENCRYPTION=off gets here without a codec: say so on every run.
    if (config.production && !dataConverter) io.stderr(`${PROGRAM}: warning: ${ENCRYPTION_OFF_WARNING}\n`);
    let client: Client | undefined;
    const ctx: CommandContext = {
      io,
      output,
      json: output !== 'text',
      config,
      encodesPayloads: Boolean(dataConverter),
      invokedAs: invokedAs(io.env),
      ...(typeof flags['workflow-id'] === 'string' ? { workflowId: flags['workflow-id'] } : {}),
      ...(typeof flags['run-id'] === 'string' ? { runId: flags['run-id'] } : {}),
      async client() {
        if (!client) {
          // A codec server that is down or refuses the credentials is found out before anything is sent.
          await remote?.check();
          connection ??= await connect(config);
          client = new Client({ connection, namespace: config.namespace, ...(dataConverter ? { dataConverter } : {}), ...clientTracing(env) });
        }
        return client;
      },
    };
    return await spec.run(ctx, flags, positionals);
  } catch (err) {
    const { message, exitCode } = describeCliError(err);
    // A refusal may quote a saga's reason: no escape sequence reaches the terminal from there either.
    io.stderr(`${PROGRAM}: ${terminalSafe(message)}\n`);
    if (jsonErrors) io.stdout(`${terminalSafeJson(JSON.stringify({ error: { message, exitCode } }))}\n`);
    return exitCode;
  } finally {
    await connection?.close();
  }
}
