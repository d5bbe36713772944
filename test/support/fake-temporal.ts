import { parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import type { SagaState } from '@saga-temporal/saga';
import type { CommandContext, Flags } from '../../src/cli/command';
import { commands } from '../../src/cli/commands';
import { describeCliError, UsageError } from '../../src/cli/errors';
import { loadClientConfig } from '../../src/config';
import type { VerificationAnswer, VerificationState } from '../../src/registration/contract';

// A stand-in for the Temporal server as the client's commands see it, for tests of one command's logic
// in the test process: sagas held in memory, every call that would reach the server recorded in order,
// and the command run as `runCli` runs it (its flags parsed from a command line, its errors turned into
// the one line and the exit code the user gets). The operator helper (`SagaClient`) is replaced by
// test/support/fake-saga-client.ts, which answers from the same sagas and records into the same list.

/** One call that reached the stand-in server, in the order it came. */
export type Call = { call: string } & Record<string, unknown>;

/** A saga the stand-in server holds. */
export interface FakeSaga {
  workflowId: string;
  /** @default `run-<workflowId>` */
  runId?: string;
  /** @default 'orderSaga' */
  type?: string;
  /** Temporal's status of the execution. @default 'RUNNING' */
  status?: string;
  /** What a worker answers to the saga state query; absent: no worker answers. */
  state?: SagaState;
  /** The registration's answers to the verification state query, one per query (the last one repeats; `undefined`: no worker answers that one); absent: no worker answers. */
  verification?: (VerificationState | undefined)[];
  /** The saga's answer to the verification code update. */
  verify?: (input: { code: string }) => VerificationAnswer;
  /** The saga's answers to the operator updates, by update name; a throw is the saga's refusal. */
  operator?: {
    retryCompensation?: (options: { runId?: string; wait?: boolean; steps?: readonly string[] }) => SagaState | undefined;
    skipCompensation?: (input: { step: string; reason: string }) => SagaState;
    markCompensated?: (input: { reason: string }) => SagaState;
  };
  /** How the workflow ends, for `handle.result()`. */
  result?: () => Promise<unknown>;
}

/** The server, the client on it, and what reached it. */
export class FakeTemporal {
  readonly calls: Call[] = [];
  /** Milliseconds between each `withDeadline` call and the deadline it set. */
  readonly deadlines: number[] = [];
  /** `Date.now()` at each retry request, in order. */
  readonly retriedAt: number[] = [];
  /** `Date.now()` at the last list request, which comes before the first retry request is timed. */
  listedAt = 0;
  /** What the visibility store finds for a list request (the query is recorded, not evaluated). */
  listed: string[] = [];
  /** Thrown by the list request instead of an answer. */
  listError: Error | undefined;
  /** How many listed sagas the command read before it stopped reading. */
  listRead = 0;
  /** Aborted as Ctrl-C would abort the client's signal. */
  readonly abort = new AbortController();
  private readonly sagas = new Map<string, FakeSaga>();

  constructor(...sagas: FakeSaga[]) {
    for (const saga of sagas) this.add(saga);
  }

  add(saga: FakeSaga): this {
    this.sagas.set(saga.workflowId, saga);
    return this;
  }

  /** The saga of that workflow id (and run, when given), as the server would find it. */
  find(workflowId: string, runId?: string): FakeSaga | undefined {
    const saga = this.sagas.get(workflowId);
    return saga && (runId === undefined || runIdOf(saga) === runId) ? saga : undefined;
  }

  /** The calls of one kind, without their `call` field. */
  callsOf(kind: string): Record<string, unknown>[] {
    return this.calls.filter((c) => c.call === kind).map(({ call: _, ...rest }) => rest);
  }

  readonly client = {
    server: this,
    connection: {
      withDeadline: async <T>(deadline: number, fn: () => Promise<T>): Promise<T> => {
        this.deadlines.push(deadline - Date.now());
        return fn();
      },
    },
    workflow: {
      getHandle: (workflowId: string, runId?: string) => this.handle(workflowId, runId),
      list: (options: { query: string; pageSize?: number }) => this.list(options),
    },
  };

  private handle(workflowId: string, runId: string | undefined) {
    const record = (call: string, more: Record<string, unknown> = {}) => this.calls.push({ call, workflowId, ...(runId ? { runId } : {}), ...more });
    const saga = () => {
      const found = this.find(workflowId, runId);
      if (!found) throw new WorkflowNotFoundError(`workflow not found for ID: ${workflowId}`, workflowId, runId);
      return found;
    };
    return {
      workflowId,
      runId,
      describe: async () => {
        record('describe');
        const s = saga();
        return { workflowId, runId: runIdOf(s), type: s.type ?? 'orderSaga', status: { name: s.status ?? 'RUNNING' }, typedSearchAttributes: { get: () => undefined } };
      },
      query: async (definition: string | { name: string }) => {
        const name = nameOf(definition);
        record('query', { name });
        const s = saga();
        const verification = name === 'verificationState' && s.verification?.length ? (s.verification.length > 1 ? s.verification.shift() : s.verification[0]) : undefined;
        if (verification) return verification;
        if (name === 'sagaState' && s.state) return s.state;
        throw new Error('no worker answered the query in time');
      },
      signal: async (definition: string | { name: string }) => {
        record('signal', { name: nameOf(definition) });
        saga();
      },
      executeUpdate: async (definition: string | { name: string }, options: { args: [{ code: string }] }) => {
        record('executeUpdate', { name: nameOf(definition), args: options.args });
        const s = saga();
        if (!s.verify) throw new Error(`the fake saga ${workflowId} has no answer to ${nameOf(definition)}`);
        return s.verify(options.args[0]);
      },
      cancel: async () => {
        record('cancel');
        saga();
      },
      result: async () => {
        record('result');
        const s = saga();
        return s.result ? s.result() : new Promise(() => undefined);
      },
    };
  }

  private async *list(options: { query: string; pageSize?: number }): AsyncIterable<{ workflowId: string; runId: string; type: string }> {
    this.calls.push({ call: 'list', query: options.query, pageSize: options.pageSize });
    this.listedAt = Date.now();
    if (this.listError) throw this.listError;
    for (const workflowId of this.listed) {
      const saga = this.sagas.get(workflowId);
      this.listRead += 1;
      yield { workflowId, runId: saga ? runIdOf(saga) : `run-${workflowId}`, type: saga?.type ?? 'orderSaga' };
    }
  }
}

export function runIdOf(saga: FakeSaga): string {
  return saga.runId ?? `run-${saga.workflowId}`;
}

function nameOf(definition: string | { name: string }): string {
  return typeof definition === 'string' ? definition : definition.name;
}

/** What a user sees of one command line: its exit code, standard output and standard error. */
export interface Ran {
  code: number;
  out: string;
  err: string;
}

// The flags every command with a saga <id> takes on top of its own, as the client's entry adds them.
const entryOptions = [
  { name: 'workflow-id', type: 'string', short: 'w' },
  { name: 'run-id', type: 'string', short: 'r' },
  { name: 'output', type: 'string', short: 'o' },
  { name: 'json', type: 'boolean' },
] as const;

/**
 * Runs one client command line against the stand-in server as `runCli` runs it: the command's own
 * flags and the entry's (`-w`, `-r`, `-o`, `--json`) parsed strictly, the `<id>` required unless shown
 * in brackets, and any error reported as `saga-client: <message>` on stderr with its exit code. Its
 * abort signal is the server's `abort`, unless `withSignal` is false.
 */
export async function runCommand(server: FakeTemporal, argv: readonly string[], options: { withSignal?: boolean } = {}): Promise<Ran> {
  let out = '';
  let err = '';
  // An embedding may give no abort signal at all (`CliIo.signal` is optional).
  const io = { stdout: (t: string) => void (out += t), stderr: (t: string) => void (err += t), env: { NODE_ENV: 'test' }, ...(options.withSignal === false ? {} : { signal: server.abort.signal }) };
  const [name, ...rest] = argv;
  const spec = commands.find((c) => c.name === name);
  if (!spec) throw new Error(`no command ${name}`);
  try {
    let parsed: { values: Flags; positionals: string[] };
    try {
      const options = Object.fromEntries(
        [...spec.options, ...entryOptions].map((o) => [o.name, { type: o.type, ...('short' in o && o.short ? { short: o.short } : {}), ...('multiple' in o && o.multiple ? { multiple: true } : {}) }]),
      );
      parsed = parseArgs({ args: [...rest], options, allowPositionals: true, strict: true }) as { values: Flags; positionals: string[] };
    } catch (e) {
      throw new UsageError((e as Error).message.split('. ')[0] ?? 'invalid arguments', spec.name);
    }
    const flags = parsed.values;
    const workflowId = typeof flags['workflow-id'] === 'string' ? flags['workflow-id'] : undefined;
    const positionals = workflowId === undefined ? parsed.positionals : [workflowId];
    const required = spec.args.filter((a) => !a.startsWith('['));
    if (positionals.length < required.length) throw new UsageError(`missing ${required.slice(positionals.length).join(' ')}`, spec.name);
    const output = flags.json === true ? 'json' : ((flags.output as 'text' | 'json' | 'jsonl' | undefined) ?? 'text');
    const ctx: CommandContext = {
      io,
      output,
      json: output !== 'text',
      config: loadClientConfig({ NODE_ENV: 'test', TEMPORAL_UI_URL: 'http://ui.test:8233' }),
      encodesPayloads: false,
      invokedAs: 'saga-client',
      ...(workflowId === undefined ? {} : { workflowId }),
      ...(typeof flags['run-id'] === 'string' ? { runId: flags['run-id'] } : {}),
      client: async () => {
        server.calls.push({ call: 'connect' });
        return server.client as unknown as Client;
      },
    };
    const code = await spec.run(ctx, flags, positionals);
    return { code, out, err };
  } catch (e) {
    const { message, exitCode } = describeCliError(e);
    err += `saga-client: ${message}\n`;
    return { code: exitCode, out, err };
  }
}
