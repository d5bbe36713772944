import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { createServices, type Services } from '../../src/services';
import { freeClusterPortBlock, startCluster, type Cluster } from '../../tools/cluster';
import { createDatabaseOn, findPostgresBin, type TestDatabase } from '../postgres';
import { upgradeDrill } from '../support/upgrade-drill';

// The upgrade drill (test/support/upgrade-drill.ts) on the production topology: Temporal 1.29 as
// separate services on PostgreSQL, visibility on PostgreSQL, the services' database on PostgreSQL too.
// Part of the cluster suite (test/cluster.*.test.ts): the server is built with Go on first use.

const root = resolve(__dirname, '..', '..');
let cluster: Cluster;
let client: Client;
let nativeConnection: NativeConnection;
let database: TestDatabase;
let services: Services;
let dataDir: string;

beforeAll(async () => {
  const install = spawnSync(process.execPath, [join(root, 'scripts', 'install-temporal.mjs'), '--quiet', '--cluster'], { encoding: 'utf8', stdio: ['ignore', 'inherit', 'pipe'] });
  if (install.status !== 0) throw new Error(`the cluster's binaries could not be installed: ${install.stderr.trim()}`);
  if (!findPostgresBin()) throw new Error('the cluster suite needs the PostgreSQL server binaries (apt-get install postgresql)');
  dataDir = mkdtempSync(join(tmpdir(), 'saga-cluster-drill-'));
  // The PostgreSQL server runs as the postgres user when the tests run as root: let it in.
  chmodSync(dataDir, 0o755);
  const frontendPort = await freeClusterPortBlock();
  cluster = await startCluster({ dataDir, frontendPort, uiPort: frontendPort + 91, historyHosts: 2, fast: true });
  client = new Client({ connection: await Connection.connect({ address: cluster.address }), namespace: cluster.namespace });
  nativeConnection = await NativeConnection.connect({ address: cluster.address });
  database = await createDatabaseOn(cluster.postgresUrl);
  services = await createServices({ databaseUrl: database.url, operatorEmail: 'ops@saga.test' });
}, 40 * 60_000);

afterAll(async () => {
  await services?.close();
  await nativeConnection?.close();
  await client?.connection.close();
  await database?.drop().catch(() => undefined);
  await cluster?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}, 120_000);

describe('a deploy with sagas in flight (cluster)', () => {
  it('finishes old orders on v1 unchanged, runs new orders on v2, upgrades registrations without a determinism error, repairs the stuck saga on v2, and retires v1 only once nothing is pinned to it', async () => {
    await upgradeDrill({ client, nativeConnection, address: cluster.address, namespace: cluster.namespace, services, databaseUrl: database.url }, (line) => console.log(line));
  }, 600_000);
});
