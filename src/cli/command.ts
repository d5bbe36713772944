import type { Client, WorkflowHandle } from '@temporalio/client';
import type { TemporalConfig } from '../config';
import { workflowUrl, type SagaOutcome } from '../report';
import { CliError, ExitCode, UsageError } from './errors';
import type { CliIo } from './io';
import { resolveSaga } from './saga-ref';
import { terminalSafeJson, terminalSafeLines } from './terminal-safe';

// What every command is made of (its spec and the context it runs in) and the few helpers the
// command groups share: reading flags, printing, finding the saga an argument names.

/** The output formats of `-o, --output`, as the `temporal` CLI names them. */
export const OUTPUT_FORMATS = ['text', 'json', 'jsonl'] as const;

/** `text` for people; `json` one indented document; `jsonl` one compact JSON object per line. */
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** What every command gets: its output, its configuration and a connected client on demand. */
export interface CommandContext {
  io: CliIo;
  /** How results are printed (`-o`, `--json` meaning `-o json`). @default "text" */
  output: OutputFormat;
  /** Whether the output is JSON, indented (`json`) or one object per line (`jsonl`). */
  json: boolean;
  config: TemporalConfig;
  /** `-w, --workflow-id`: the saga's exact workflow id, when given instead of the positional `<id>`. */
  workflowId?: string;
  /** `-r, --run-id`: the run of the saga to act on, when not the latest. */
  runId?: string;
  /** Whether the client encrypts what it sends (local keys or a codec server). */
  encodesPayloads: boolean;
  /** How the user runs the client, for the commands a hint suggests: `saga-client`, or `npm run client --`. */
  invokedAs: string;
  /** Connects on first use, so `--help` and usage errors never need a server. */
  client(): Promise<Client>;
}

/** The parsed flags of a command, as `node:util` `parseArgs` returns them. */
export type Flags = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** One flag of a command, with its help line. */
export interface OptionSpec {
  name: string;
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** Placeholder of the value in the help, e.g. `<ms>`. */
  arg?: string;
  doc: string;
}

/** A client command: its help, its flags and what it does. */
export interface CommandSpec {
  name: string;
  /** Positional arguments as shown in the usage line, e.g. `<id>`. */
  args: string[];
  summary: string;
  /** Further lines of help. */
  details?: string[];
  options: OptionSpec[];
  run(ctx: CommandContext, flags: Flags, args: string[]): Promise<ExitCode>;
}

/** The help line of every command that takes a saga reference. */
export const SAGA_REF_HELP = '<id> is a workflow id, an order id, or the e-mail address of a registration; or give -w <workflow id> [-r <run id>].';

/**
 * The command line the user runs the client with: `npm run client --` when npm started it (npm sets
 * `npm_lifecycle_event` to the script's name), else `saga-client`, the installed binary.
 */
export function invokedAs(env: Readonly<Record<string, string | undefined>>): string {
  return env.npm_lifecycle_event === 'client' ? 'npm run client --' : 'saga-client';
}

/** The value of a string flag, if given. */
export function stringFlag(flags: Flags, name: string): string | undefined {
  const v = flags[name];
  return typeof v === 'string' ? v : undefined;
}

/** Every value of a repeatable string flag, in the order given. */
export function stringFlags(flags: Flags, name: string): string[] {
  const v = flags[name];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** The value of a flag the command cannot do without; a usage error when missing or blank. */
export function requiredFlag(flags: Flags, name: string, command: string): string {
  const v = stringFlag(flags, name);
  if (v === undefined || v.trim() === '') throw new UsageError(`--${name} is required`, command);
  return v;
}

/** A flag holding a positive integer, `fallback` when absent. */
export function positiveIntFlag(flags: Flags, name: string, fallback: number, command: string): number {
  const raw = stringFlag(flags, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer (got "${raw}")`, command);
  return n;
}

/** Writes one line of text to standard output. */
export function printLine(ctx: CommandContext, text = ''): void {
  ctx.io.stdout(`${terminalSafeLines(text)}\n`);
}

/** Writes a value as JSON to standard output: indented under `-o json`, on one line under `-o jsonl`. */
export function printJson(ctx: CommandContext, value: unknown): void {
  ctx.io.stdout(`${terminalSafeJson(JSON.stringify(value, null, ctx.output === 'jsonl' ? undefined : 2))}\n`);
}

/**
 * What a command that finds many things reports: under `-o jsonl` one line per item, under `-o json`
 * one array, else the lines of text `text` makes (called only for text output).
 */
export function printRecords(ctx: CommandContext, items: readonly unknown[], text: () => string[]): void {
  if (ctx.output === 'jsonl') for (const item of items) ctx.io.stdout(`${terminalSafeJson(JSON.stringify(item))}\n`);
  else if (ctx.output === 'json') printJson(ctx, items);
  else for (const line of text()) printLine(ctx, line);
}

/** What a command reports: `value` as JSON under `--json`, else the lines of text. */
export function printResult(ctx: CommandContext, value: unknown, ...lines: string[]): void {
  if (ctx.json) printJson(ctx, value);
  else for (const text of lines) printLine(ctx, text);
}

/** The Web UI page of a workflow, in the configured UI and namespace. */
export function webUiUrl(ctx: CommandContext, workflowId: string): string {
  return workflowUrl(ctx.config.uiUrl, ctx.config.namespace, workflowId);
}

/** How a saga ended, in one line: its status, why, and what was undone. */
export function outcomeLine(outcome: SagaOutcome): string {
  const undone = outcome.compensated.length ? `; undone: ${outcome.compensated.join(', ')}` : '';
  return `${outcome.status}: ${outcome.message}${undone}`;
}

/** How a saga ended, as the `outcome` field of `--json` output. */
export function outcomeJson(outcome: SagaOutcome): Record<string, unknown> {
  return { status: outcome.status, message: outcome.message, compensated: outcome.compensated, ...(outcome.result === undefined ? {} : { result: outcome.result }) };
}

/**
 * The saga a reference names, with a handle on it; a usage error when it is not of the `type` asked
 * for. `-w` in the context makes the reference an exact workflow id; `-r` targets that run.
 */
export async function findSaga(ctx: CommandContext, ref: string, type?: 'registrationSaga' | 'orderSaga') {
  const client = await ctx.client();
  const saga = await resolveSaga(client, ctx.workflowId ?? ref, ctx.config.idSecret, { exact: ctx.workflowId !== undefined, runId: ctx.runId });
  if (type && saga.description.type !== type) {
    const kind = (t: string) => (t === 'registrationSaga' ? 'a registration' : t === 'orderSaga' ? 'an order' : `a ${t} workflow`);
    throw new CliError(`${saga.workflowId} is ${kind(saga.description.type)}, not ${kind(type)}`, ExitCode.USAGE);
  }
  const handle: WorkflowHandle = client.workflow.getHandle(saga.workflowId, ctx.runId);
  return { client, ...saga, handle };
}

/** Refuses an action on a saga whose workflow has already closed. */
export function assertRunning(workflowId: string, status: string): void {
  if (status !== 'RUNNING') throw new CliError(`${workflowId} has already ended (${status})`);
}
