import { describe, expect, it } from 'vitest';
import { formatDeployment, runDeploy } from '../../src/deploy';

// What `npm run deploy` refuses before it sends anything, and how it prints a deployment. The moves
// themselves (promote, ramp, retire and its refusal) run against a server in the upgrade drill.

async function deploy(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  // Port 1 answers nothing: a command that got as far as connecting would exit 3, not 2.
  const code = await runDeploy(argv, { stdout: (t) => void (out += t), stderr: (t) => void (err += t), env: { NODE_ENV: 'test', TEMPORAL_ADDRESS: '127.0.0.1:1' } });
  return { code, out, err };
}

describe('npm run deploy refuses a bad command line with exit code 2, before connecting', () => {
  it.each([
    [['promote'], 'promote needs the build id of a version'],
    [['retire'], 'retire needs the build id of a version'],
    [['promote', '1.0:abc'], '"1.0:abc" is not a build id'],
    [['status', '1.0.0'], 'status takes no build id'],
    [['rollout', '1.0.0'], 'Unknown command "rollout"'],
    [[], 'No command given'],
    [['promote', '1.0.0', '--ramp', '0'], '--ramp must be a whole percentage from 1 to 99 (got "0")'],
    [['promote', '1.0.0', '--ramp', '100'], '--ramp must be a whole percentage from 1 to 99 (got "100")'],
    [['promote', '1.0.0', '--ramp', '12.5'], '--ramp must be a whole percentage from 1 to 99 (got "12.5")'],
    [['retire', '1.0.0', '--ramp', '10'], '--ramp goes with promote'],
    [['promote', '1.0.0', '--wait', '0'], '--wait must be a positive number of seconds (got "0")'],
    [['status', '--deployment', 'a:b'], '--deployment: "a:b" is not a deployment name'],
  ])('%j', async (argv, message) => {
    const { code, err } = await deploy(...argv);
    expect(err).toContain(message);
    expect(code).toBe(2);
  });

  it('accepts ramps of 1% and 99%, then fails to reach the server (exit 3)', async () => {
    for (const ramp of ['1', '99']) {
      const { code, err } = await deploy('promote', '1.0.0', '--ramp', ramp);
      expect(err).toBe('Cannot reach the Temporal server at 127.0.0.1:1\n');
      expect(code).toBe(3);
    }
  });

  it('prints its help with exit code 0', async () => {
    const { code, out } = await deploy('--help');
    expect(out).toMatch(/^Usage: npm run deploy -- <command> \[options\]/);
    expect(out).toContain('--wait <seconds>        how long to wait for its workers (default 60)');
    expect(out).toContain('(default SAGA_DEPLOYMENT_NAME, else saga-temporal)');
    expect(code).toBe(0);
  });
});

describe('the deployment table', () => {
  it('lists each version, oldest first, with its state, its pinned sagas and whether it is retired', () => {
    const text = formatDeployment({
      deploymentName: 'saga-temporal',
      current: '0.2.0',
      ramping: undefined,
      versions: [
        { buildId: '0.1.0', state: 'draining', pinnedRunning: 100, retired: false },
        { buildId: '0.2.0', state: 'current', pinnedRunning: 3, retired: false },
      ],
    });
    expect(text).toBe(
      [
        'Deployment saga-temporal: current 0.2.0',
        'version              state     pinned sagas running  retired',
        'saga-temporal:0.1.0  draining  100                   no',
        'saga-temporal:0.2.0  current   3                     no',
        '',
      ].join('\n'),
    );
  });

  it('shows a ramp with its percentage', () => {
    const text = formatDeployment({
      deploymentName: 'd',
      current: '1',
      ramping: { buildId: '2', percentage: 25 },
      versions: [
        { buildId: '1', state: 'current', pinnedRunning: 0, retired: false },
        { buildId: '2', state: 'ramping', pinnedRunning: 0, retired: false },
      ],
    });
    expect(text.split('\n')[0]).toBe('Deployment d: current 1, ramping 2 at 25%');
    expect(text).toContain('d:2      ramping 25%  0');
  });
});
