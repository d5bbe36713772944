import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalPostgresError, startCluster } from '../../tools/cluster';

// The cluster keeps PostgreSQL's data in its own data folder or does not start: as root, PostgreSQL
// runs as the postgres user, and a folder that user cannot reach is refused before anything is
// written, rather than its data being put somewhere removing the folder would miss.

const root = resolve(__dirname, '..', '..');
const SYSTEM_POSTGRES = '/var/lib/postgresql';
let dir: string;

beforeAll(() => {
  const install = spawnSync(process.execPath, [join(root, 'scripts', 'install-temporal.mjs'), '--quiet', '--cluster'], { encoding: 'utf8', stdio: ['ignore', 'inherit', 'pipe'] });
  if (install.status !== 0) throw new Error(`the cluster's binaries could not be installed: ${install.stderr.trim()}`);
  // mkdtemp makes the folder 0700: root's alone, out of the postgres user's reach.
  dir = mkdtempSync(join(tmpdir(), 'saga-cluster-private-'));
}, 40 * 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(process.getuid?.() !== 0)('the cluster data folder, as root', () => {
  it('refuses a folder the postgres user cannot reach, naming the folder in the way, before writing anything anywhere', async () => {
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const before = existsSync(SYSTEM_POSTGRES) ? readdirSync(SYSTEM_POSTGRES).sort() : [];
    const dataDir = join(dir, 'cluster');

    const refused = await startCluster({ dataDir, frontendPort: 21_000 }).then(
      () => undefined,
      (err: unknown) => err,
    );

    expect(refused).toBeInstanceOf(LocalPostgresError);
    expect((refused as Error).message).toContain(`that user cannot enter ${dir}, so it cannot reach ${join(dataDir, 'postgres')}`);
    expect((refused as Error).message).toContain(`setfacl -m u:postgres:x ${dir}`);
    expect(existsSync(dataDir)).toBe(false);
    expect(existsSync(SYSTEM_POSTGRES) ? readdirSync(SYSTEM_POSTGRES).sort() : []).toEqual(before);
  });
});
