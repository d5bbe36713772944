// One long-running child process of the local cluster: started in its own process group (a Ctrl-C in
// the terminal reaches the launcher, which stops everything in order, not everything at once), its
// output appended to a log file, killed if the launcher dies without stopping it, and startable
// again with the same command after a crash or a deliberate kill.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';

/** How to run one process. */
export interface ProcessSpec {
  /** Name in logs and errors, e.g. "history-1". */
  name: string;
  command: string;
  args: readonly string[];
  /** Environment added to the launcher's. */
  env: Record<string, string>;
  /** File receiving stdout and stderr (appended, so restarts keep the earlier output). */
  logFile: string;
  cwd?: string;
}

/** A managed child process. */
export interface ManagedProcess {
  readonly spec: ProcessSpec;
  /** Process id of the current incarnation, or undefined while it is not running. */
  readonly pid: number | undefined;
  /** Whether the current incarnation is alive. */
  readonly running: boolean;
  /** Starts it (again); a no-op while it runs. */
  start(): void;
  /** Sends `signal` and waits until the process is gone. @default "SIGKILL" */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`; waits until it is gone. @default graceMs 10_000 */
  stop(graceMs?: number): Promise<void>;
  /** Resolves when the current incarnation exits, with its exit code (null when a signal ended it). */
  exited(): Promise<number | null>;
}

/** Creates a process from `spec` without starting it. */
export function managedProcess(spec: ProcessSpec): ManagedProcess {
  let child: ChildProcess | undefined;
  let exit: Promise<number | null> = Promise.resolve(null);
  const killOnExit = () => child?.kill('SIGKILL');

  const alive = () => child !== undefined && child.exitCode === null && child.signalCode === null;
  const waitGone = async (ms: number) => Promise.race([exit.then(() => true), new Promise<boolean>((done) => setTimeout(() => done(false), ms).unref())]);

  return {
    spec,
    get pid() {
      return alive() ? child?.pid : undefined;
    },
    get running() {
      return alive();
    },
    start() {
      if (alive()) return;
      mkdirSync(dirname(spec.logFile), { recursive: true });
      const fd = openSync(spec.logFile, 'a');
      try {
        child = spawn(spec.command, [...spec.args], { cwd: spec.cwd, env: { ...process.env, ...spec.env }, stdio: ['ignore', fd, fd], detached: true });
      } finally {
        closeSync(fd);
      }
      const current = child;
      exit = new Promise((done) => {
        current.once('exit', (code) => done(code));
        current.once('error', () => done(null));
      });
      process.once('exit', killOnExit);
      void exit.then(() => process.removeListener('exit', killOnExit));
    },
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (!alive()) return;
      child?.kill(signal);
      await exit;
    },
    async stop(graceMs = 10_000) {
      if (!alive()) return;
      child?.kill('SIGTERM');
      if (!(await waitGone(graceMs))) {
        child?.kill('SIGKILL');
        await exit;
      }
    },
    exited: () => exit,
  };
}
