import { isGrpcServiceError, ServiceError, WorkflowUpdateFailedError } from '@temporalio/client';
import { NamespaceNotFoundError, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/common';
import { RemoteCodecError } from '../codec/remote-codec';
import { ConfigError } from '../config';
import { InvalidInputError } from '../shared/validation';
import { EncryptionRequiredError } from '../task-queue-guard';

/** Exit codes of the client, so scripts can tell a refusal from a typo from an outage. */
export const ExitCode = {
  /** The command did what was asked. */
  OK: 0,
  /** The operation was refused or the saga failed (a wrong code, an update refused, `--wait` on a failed saga). */
  FAILED: 1,
  /** The command line, the input or the configuration is wrong (the codec server's credentials included); nothing was sent. */
  USAGE: 2,
  /** The Temporal server, or the codec server of `--codec-endpoint`, could not be reached. */
  UNREACHABLE: 3,
  /** No saga matches the id given. */
  NOT_FOUND: 4,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Thrown by a command for an outcome it explains itself in one line. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: ExitCode = ExitCode.FAILED,
  ) {
    super(message);
  }
}

/** Thrown when the command line itself is wrong: an unknown flag, a missing argument. */
export class UsageError extends CliError {
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message, ExitCode.USAGE);
  }
}

/** Thrown when nothing answers at the configured Temporal address. */
export class ServerUnreachableError extends CliError {
  constructor(readonly address: string) {
    super(`Cannot reach the Temporal server at ${address}: start it with \`npm start\` or set TEMPORAL_ADDRESS.`, ExitCode.UNREACHABLE);
  }
}

const GRPC_UNAVAILABLE = 14;

function rootMessage(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}

// The SDK may wrap what a payload codec throws; the codec's own error says what went wrong.
function codecErrorIn(err: unknown): RemoteCodecError | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++) if (e instanceof RemoteCodecError) return e;
  return undefined;
}

const CODEC_EXIT_CODES = { unreachable: ExitCode.UNREACHABLE, refused: ExitCode.USAGE, failed: ExitCode.FAILED } as const;

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, '; ').trim();
}

/** Turns any error a command throws into the one line the user sees and the exit code. */
export function describeCliError(err: unknown): { message: string; exitCode: ExitCode } {
  if (err instanceof UsageError) {
    const help = err.command ? `client ${err.command} --help` : 'client --help';
    return { message: `${err.message} (see \`${help}\`)`, exitCode: err.exitCode };
  }
  if (err instanceof CliError) return { message: err.message, exitCode: err.exitCode };
  const codecError = codecErrorIn(err);
  if (codecError) return { message: codecError.message, exitCode: CODEC_EXIT_CODES[codecError.kind] };
  if (err instanceof InvalidInputError) return { message: err.message, exitCode: ExitCode.USAGE };
  if (err instanceof EncryptionRequiredError) return { message: err.message, exitCode: ExitCode.USAGE };
  if (err instanceof ConfigError) return { message: `Invalid configuration: ${err.problems.join('; ')}`, exitCode: ExitCode.USAGE };
  if (err instanceof WorkflowNotFoundError) return { message: `No saga with workflow id ${err.workflowId}`, exitCode: ExitCode.NOT_FOUND };
  if (err instanceof NamespaceNotFoundError) return { message: `The namespace ${err.namespace} does not exist on this server`, exitCode: ExitCode.USAGE };
  if (err instanceof WorkflowExecutionAlreadyStartedError) {
    const once = err.workflowId.startsWith('registration-') ? 'an address can be registered once at a time' : 'each order id can be used once';
    return { message: `A saga with workflow id ${err.workflowId} already exists: ${once}`, exitCode: ExitCode.FAILED };
  }
  if (err instanceof WorkflowUpdateFailedError) return { message: `Refused: ${oneLine(rootMessage(err))}`, exitCode: ExitCode.FAILED };
  const grpc = err instanceof ServiceError && isGrpcServiceError(err.cause) ? err.cause : isGrpcServiceError(err) ? err : undefined;
  if (grpc?.code === GRPC_UNAVAILABLE) return { message: `The Temporal server is unavailable: ${oneLine(grpc.details || grpc.message)}`, exitCode: ExitCode.UNREACHABLE };
  if (grpc) return { message: `The Temporal server refused the request: ${oneLine(grpc.details || grpc.message)}`, exitCode: ExitCode.FAILED };
  const root = rootMessage(err);
  // Payloads sealed by the worker's codec, read by a client that has neither its keys nor its codec server.
  if (/Unknown encoding: binary\/encrypted/.test(root)) {
    return { message: 'The saga\'s payloads are encrypted and this client cannot read them: set SAGA_CODEC_KEYS to the worker\'s keys, or give --codec-endpoint (docs/security.md)', exitCode: ExitCode.USAGE };
  }
  return { message: `Unexpected error: ${oneLine(root)}`, exitCode: ExitCode.FAILED };
}
