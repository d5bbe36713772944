import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { temporalTestServer } from '../../tools/temporal-binaries';

// The engine and barrier packages as a user gets them: packed with `npm pack`, installed from the
// tarballs into a scratch project outside the workspace (so nothing resolves back to the sources),
// a small saga compiled with the scratch project's own strict `tsc` against the packed types, and
// run on the time-skipping test server. Peers are installed at the versions the workspace uses.
// `skipLibCheck` as most projects set it: Temporal's own declarations need `@types/ms` otherwise; the
// packed declarations are still what the saga, its client and its test helper are checked against.

const root = resolve(__dirname, '..', '..');
const installed = (name: string): string => (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
const peers = ['@temporalio/activity', '@temporalio/client', '@temporalio/common', '@temporalio/testing', '@temporalio/worker', '@temporalio/workflow', 'typescript', '@types/node'];

interface Packed {
  name: string;
  filename: string;
  files: { path: string }[];
}

const activitiesSource = `import { ApplicationFailure } from '@temporalio/common';

export const log: string[] = [];

export async function reserveSeat(input: { tripId: string; sagaId?: string }): Promise<string> {
  log.push(\`reserve:\${input.tripId}:\${input.sagaId ? 'keyed' : 'unkeyed'}\`);
  return 'seat-12A';
}

export async function releaseSeat(input: { tripId: string }): Promise<void> {
  log.push(\`release:\${input.tripId}\`);
}

export async function chargeCard(input: { tripId: string }): Promise<string> {
  log.push(\`charge:\${input.tripId}\`);
  throw ApplicationFailure.nonRetryable('card declined', 'CardDeclined');
}
`;

const workflowsSource = `import { activity, Saga, sagaActivities } from '@saga-temporal/saga';
import type * as activities from './activities';

export { sagaStateQuery } from '@saga-temporal/saga';

const acts = sagaActivities<typeof activities>({ startToCloseTimeout: '10 seconds', retry: { maximumAttempts: 1 } });

export async function bookTrip(tripId: string): Promise<string> {
  const saga = new Saga({ compensationRetry: { maximumAttempts: 3 } });
  return saga.run(async () => {
    const seat: string = await saga.step({
      name: 'reserveSeat',
      run: activity(acts.reserveSeat, { tripId }),
      compensate: { name: 'releaseSeat', run: activity(acts.releaseSeat, { tripId }) },
    });
    const receipt = await saga.step({ name: 'chargeCard', run: activity(acts.chargeCard, { tripId }) });
    return \`\${seat} \${receipt}\`;
  });
}
`;

const mainSource = `import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { barrierSchema, BarrierFailureType, type BarrierDatabase } from '@saga-temporal/barrier';
import { numberPlaceholders } from '@saga-temporal/barrier/postgres';
import type { SqliteConnection } from '@saga-temporal/barrier/sqlite';
import { SagaClient } from '@saga-temporal/saga/client';
import { createTimeSkippingEnvironment } from '@saga-temporal/saga/testing';
import * as activities from './activities';
import { bookTrip } from './workflows';

type Unused = [BarrierDatabase, SqliteConnection];

async function main(): Promise<void> {
  const env = await createTimeSkippingEnvironment();
  try {
    // 2 = INDEXED_VALUE_TYPE_KEYWORD: the saga writes its status to SagaStatus by default.
    await env.connection.operatorService.addSearchAttributes({ namespace: 'default', searchAttributes: { SagaStatus: 2 } });
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue: 'trips', workflowsPath: require.resolve('./workflows'), activities });
    const outcome = await worker.runUntil(async () => {
      try {
        return { completed: await env.client.workflow.execute(bookTrip, { taskQueue: 'trips', workflowId: 'trip-1', args: ['trip-1'] }) };
      } catch (err) {
        if (!(err instanceof WorkflowFailedError) || !(err.cause instanceof ApplicationFailure)) throw err;
        const reading = await new SagaClient(env.client).state('trip-1');
        const described = await env.client.workflow.getHandle('trip-1').describe();
        return {
          type: err.cause.type,
          message: err.cause.message,
          details: err.cause.details?.[0],
          status: reading.status,
          steps: reading.source === 'query' ? reading.state.steps.map((s) => [s.name, s.status]) : [],
          searchAttribute: described.searchAttributes['SagaStatus'],
        };
      }
    });
    const unused: Unused | undefined = undefined;
    const barrier = { tables: barrierSchema.length, refusal: BarrierFailureType.StepAlreadyCompensated, placeholders: numberPlaceholders('a = ? AND b = ?'), unused };
    console.log(JSON.stringify({ outcome, log: activities.log, barrier }));
  } finally {
    await env.teardown();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
`;

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  return execFileSync(cmd, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

let tmp: string;
let packed: Packed[];
let unpacked: string;
let scratch: string;
const timings: Record<string, number> = {};

function timed<T>(label: string, fn: () => T): T {
  const start = performance.now();
  try {
    return fn();
  } finally {
    timings[label] = Math.round(performance.now() - start);
  }
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'saga-tarball-'));
  packed = timed('pack', () =>
    JSON.parse(run('npm', ['pack', '--json', '--pack-destination', tmp, '--workspace', 'packages/saga', '--workspace', 'packages/barrier'], root)),
  ) as Packed[];
  unpacked = join(tmp, 'unpacked');
  for (const p of packed) {
    const dir = join(unpacked, p.name);
    mkdirSync(dir, { recursive: true });
    run('tar', ['-xzf', join(tmp, p.filename), '-C', dir, '--strip-components=1'], tmp);
  }

  scratch = join(tmp, 'scratch');
  mkdirSync(join(scratch, 'src'), { recursive: true });
  writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'scratch-trips', version: '1.0.0', private: true, type: 'commonjs' }, null, 2));
  writeFileSync(
    join(scratch, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'Node16', moduleResolution: 'Node16', strict: true, noUncheckedIndexedAccess: true, skipLibCheck: true, types: ['node'], outDir: 'dist', rootDir: 'src' }, include: ['src'] }, null, 2),
  );
  writeFileSync(join(scratch, 'src', 'activities.ts'), activitiesSource);
  writeFileSync(join(scratch, 'src', 'workflows.ts'), workflowsSource);
  writeFileSync(join(scratch, 'src', 'main.ts'), mainSource);
  timed('install', () =>
    run(
      'npm',
      ['install', '--prefer-offline', '--no-audit', '--no-fund', ...packed.map((p) => join(tmp, p.filename)), ...peers.map((name) => `${name}@${installed(name)}`)],
      scratch,
    ),
  );
}, 300_000);

afterAll(() => {
  console.log(`package tarball timings (ms): ${JSON.stringify(timings)}`);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('the packed tarballs', () => {
  it('hold the compiled entries, their types, README, CHANGELOG and LICENSE, and no sources, tests or build info', () => {
    const paths = Object.fromEntries(packed.map((p) => [p.name, p.files.map((f) => f.path).sort()]));
    expect(Object.keys(paths).sort()).toEqual(['@saga-temporal/barrier', '@saga-temporal/saga']);
    expect(paths['@saga-temporal/saga']).toEqual(
      expect.arrayContaining(['package.json', 'README.md', 'CHANGELOG.md', 'LICENSE', 'dist/index.js', 'dist/index.d.ts', 'dist/client.js', 'dist/client.d.ts', 'dist/testing.js', 'dist/testing.d.ts']),
    );
    expect(paths['@saga-temporal/barrier']).toEqual(
      expect.arrayContaining(['package.json', 'README.md', 'CHANGELOG.md', 'LICENSE', 'dist/index.js', 'dist/index.d.ts', 'dist/sqlite.js', 'dist/sqlite.d.ts', 'dist/postgres.js', 'dist/postgres.d.ts']),
    );
    for (const files of Object.values(paths)) {
      const stray = files.filter((f) => !/^(package\.json|README\.md|CHANGELOG\.md|LICENSE|dist\/[\w-]+\.(js|js\.map|d\.ts))$/.test(f));
      expect(stray).toEqual([]);
    }
  });

  it('carry source maps whose sources are inlined, so no map points at a file the tarball lacks', () => {
    const maps = filesUnder(unpacked).filter((f) => f.endsWith('.map'));
    expect(maps.length).toBeGreaterThan(10);
    for (const map of maps) {
      const { sources, sourcesContent } = JSON.parse(readFileSync(map, 'utf8')) as { sources: string[]; sourcesContent?: (string | null)[] };
      expect(sourcesContent?.length, relative(unpacked, map)).toBe(sources.length);
      expect(sourcesContent?.every((s) => typeof s === 'string' && s.length > 0), relative(unpacked, map)).toBe(true);
    }
  });

  it('declare no install script and no dependency: Temporal and the drivers are peers', () => {
    for (const p of packed) {
      const manifest = JSON.parse(readFileSync(join(unpacked, p.name, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
      expect(manifest.scripts?.postinstall, p.name).toBeUndefined();
      expect(manifest.scripts?.install, p.name).toBeUndefined();
      expect(manifest.dependencies, p.name).toBeUndefined();
      expect(Object.keys(manifest.peerDependencies ?? {}).some((d) => d.startsWith('@temporalio/')), p.name).toBe(true);
      expect(manifest.license, p.name).toBe('MIT');
    }
  });
});

describe('a scratch project outside the workspace', () => {
  it('resolves the packages from its own node_modules, not from the workspace', () => {
    const resolved = run(process.execPath, ['-p', "[require.resolve('@saga-temporal/saga'), require.resolve('@saga-temporal/barrier/sqlite')].join('\\\\n')"], scratch);
    for (const path of resolved.trim().split('\n')) expect(path.startsWith(join(scratch, 'node_modules'))).toBe(true);
    expect(relative(root, scratch).startsWith('..')).toBe(true);
  });

  it("compiles a saga with its own strict tsc against the packed types", () => {
    const tsc = join(scratch, 'node_modules', 'typescript', 'bin', 'tsc');
    const output = timed('tsc', () => {
      try {
        return run(process.execPath, [tsc, '-p', 'tsconfig.json'], scratch);
      } catch (err) {
        throw new Error(`tsc failed:\n${(err as { stdout?: string }).stdout ?? String(err)}`);
      }
    });
    expect(output).toBe('');
  }, 240_000);

  it('runs it on the time-skipping server: the failed charge unwinds the seat reservation and the workflow fails with CardDeclined', () => {
    const server = temporalTestServer();
    if (server.type !== 'existing-path') throw new Error('The time-skipping test server is not installed: run npm run install-temporal');
    const output = timed('run', () => run(process.execPath, ['dist/main.js'], scratch, { ...process.env, TEMPORAL_TEST_SERVER_PATH: server.path }));
    const result = JSON.parse(output.trim().split('\n').at(-1)!) as { outcome: Record<string, unknown>; log: string[]; barrier: Record<string, unknown> };
    expect(result.log).toEqual(['reserve:trip-1:keyed', 'charge:trip-1', 'release:trip-1']);
    expect(result.outcome).toMatchObject({
      type: 'CardDeclined',
      message: 'chargeCard failed: card declined',
      details: { status: 'COMPENSATED', failedStep: 'chargeCard', compensated: ['reserveSeat'] },
      status: 'COMPENSATED',
      steps: [
        ['reserveSeat', 'compensated'],
        ['chargeCard', 'failed'],
      ],
      searchAttribute: ['COMPENSATED'],
    });
    expect(result.barrier).toEqual({ tables: 2, refusal: 'StepAlreadyCompensated', placeholders: 'a = $1 AND b = $2' });
  }, 180_000);
});
