/** Where the client reads its environment and writes its output; tests pass their own. */
export interface CliIo {
  /** Writes text to standard output as is. */
  stdout(text: string): void;
  /** Writes text to standard error as is. */
  stderr(text: string): void;
  /** The environment the configuration is read from. */
  env: Record<string, string | undefined>;
  /** Whether standard output is a terminal, so `--watch` redraws in place. @default false */
  isTTY?: boolean;
  /** Width of that terminal, which the status screen fills; 100 columns when unknown or not a terminal. */
  columns?: number;
  /** Aborted on Ctrl-C: ends `--watch` and other waits cleanly. */
  signal?: AbortSignal;
}

/**
 * The real process: its streams, its environment, and an abort signal tied to SIGINT and SIGTERM.
 * A command that does not watch the signal (a `--wait`) is ended a moment later with exit code 130.
 */
export function processIo(): CliIo {
  const abort = new AbortController();
  const stop = () => {
    abort.abort();
    setTimeout(() => process.exit(130), 1_000).unref();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return {
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
    env: process.env,
    isTTY: Boolean(process.stdout.isTTY),
    ...(process.stdout.columns ? { columns: process.stdout.columns } : {}),
    signal: abort.signal,
  };
}
