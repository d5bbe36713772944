import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// `npm run chaos`'s broker options as a user meets them: the defaults its help promises, and values
// out of range refused (exit 2, the option named) before any server, broker or process is started.

const root = resolve(__dirname, '..', '..');

function chaos(...args: string[]): { status: number | null; out: string } {
  const run = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'scripts', 'chaos.ts'), ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return { status: run.status, out: `${run.stdout}${run.stderr}` };
}

describe('npm run chaos', () => {
  it('states the broker defaults in --help: 2 broker kills, 2 carrier kills, within 60 s, poison 0.02', () => {
    const { status, out } = chaos('--help');
    expect(status).toBe(0);
    expect(out).toMatch(/--broker-kills <n> +SIGKILLs of the NATS node per round, each restarted 2 s later \(default 2\)/);
    expect(out).toMatch(/--carrier-kills <n> +SIGKILLs of the carrier process per round, each restarted 2 s later \(default 2\)/);
    expect(out).toMatch(/--kills-within <s> +.*\(default 60\)/);
    expect(out).toMatch(/--poison <rate> +[\s\S]*\(default 0\.02\)/);
  }, 60_000);

  it('refuses a negative kill count, more than 100 kills and a poison share above 1 before starting anything', () => {
    for (const [args, message] of [
      [['--broker-kills=-1'], '--broker-kills must be a number between 0 and 100 (got "-1")'],
      [['--carrier-kills', '101'], '--carrier-kills must be a number between 0 and 100 (got "101")'],
      [['--poison', '1.01'], '--poison must be a number between 0 and 1 (got "1.01")'],
    ] as const) {
      const { status, out } = chaos(...args);
      expect(status, args.join(' ')).toBe(2);
      expect(out).toContain(message);
      expect(out).not.toContain('chaos run:');
    }
  }, 120_000);
});
