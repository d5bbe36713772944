import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadCarrierConfig } from '../../src/carrier/config';
import { loadCodecConfig } from '../../src/codec';
import { CONNECTION_FLAGS, loadWorkerConfig } from '../../src/config';
import { loadRelayConfig } from '../../src/relay/config';
import { customSearchAttributes } from '../../src/shared/search-attributes';
import { devServerArgs, dynamicConfigArgs, sagaDynamicConfig } from '../../tools/devserver';

// No Docker engine runs where the tests run, so the deployment is checked by reading it: the services
// and their wiring, and that the worker's environment is exactly what the code reads.

const root = resolve(__dirname, '..', '..');

interface Service {
  image?: string;
  build?: { context: string; dockerfile?: string };
  environment?: Record<string, string | number | boolean>;
  depends_on?: Record<string, { condition: string }>;
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] | string };
  command?: string[] | string;
  restart?: string;
  profiles?: string[];
}

/** The server version `scripts/install-temporal.mjs` builds for `npm run cluster` (read, not imported: importing it installs). */
const SERVER_VERSION = /export const SERVER_VERSION = '([^']+)'/.exec(readFileSync(join(root, 'scripts', 'install-temporal.mjs'), 'utf8'))?.[1] ?? 'missing';
/** The environment name of the server config: `deploy/temporal/<env>.yaml`. */
const UI_SERVER_VERSION = /export const UI_SERVER_VERSION = '([^']+)'/.exec(readFileSync(join(root, 'scripts', 'install-temporal.mjs'), 'utf8'))?.[1] ?? 'missing';
/** The NATS server version `scripts/install-temporal.mjs` builds for `npm start` and the tests. */
const NATS_SERVER_VERSION = /export const NATS_SERVER_VERSION = '([^']+)'/.exec(readFileSync(join(root, 'scripts', 'install-temporal.mjs'), 'utf8'))?.[1] ?? 'missing';
const SERVER_ENV = 'saga';
const temporalServices: Record<string, string> = { 'temporal-history': 'history', 'temporal-matching': 'matching', temporal: 'frontend', 'temporal-worker': 'worker' };
/** The variables the server config fails without. */
const requiredByServerConfig = [...(/range list ((?:"[A-Z_]+" ?)+)/.exec(readFileSync(join(root, 'deploy', 'temporal', 'saga.yaml'), 'utf8'))?.[1] ?? '').matchAll(/"([A-Z_]+)"/g)].map((m) => m[1] as string);

function filesNamed(dir: string, pattern: RegExp): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? filesNamed(path, pattern) : pattern.test(entry) ? [path] : [];
  });
}

// `merge`: the Temporal services share their settings through YAML merge keys (`<<: *temporal-env`).
const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service>; volumes?: Record<string, unknown> };
const services = compose.services;
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');

function service(name: string): Service {
  const s = services[name];
  if (!s) throw new Error(`docker-compose.yml has no service ${name}`);
  return s;
}

/** The secrets compose requires (`${VAR:?}`), as a user would set them. */
const secrets: Record<string, string> = {
  POSTGRES_SUPERUSER_PASSWORD: 'superuser-secret',
  TEMPORAL_DB_PASSWORD: 'temporal-secret',
  SAGA_DB_PASSWORD: 'saga-secret',
  SAGA_ID_SECRET: 'id-secret-of-at-least-thirty-two-characters',
  SAGA_CODEC_KEYS: `k1:${randomBytes(32).toString('base64')}`,
};

/** Compose's interpolation with only {@link secrets} set: `${VAR:-default}`, `${VAR:?message}` and `$$` escapes. */
function interpolate(value: string): string {
  return value
    .replace(/\$\{([A-Z0-9_]+)(?::?([-?])([^}]*))?\}/g, (_m, name: string, op?: string, arg?: string) => {
      const set = secrets[name];
      if (set !== undefined) return set;
      if (op === '?') throw new Error(`${name} is required: ${arg}`);
      return arg ?? '';
    })
    .replace(/\$\$/g, '$');
}

function env(name: string): Record<string, string> {
  return Object.fromEntries(Object.entries(service(name).environment ?? {}).map(([k, v]) => [k, interpolate(String(v))]));
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? filesUnder(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Environment variables the code reads: `env.X`, `process.env.X`, `env['X']` and the config helpers' `(env, 'X', …)`. */
function variablesReadIn(files: string[]): Set<string> {
  const names = new Set<string>();
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/\benv\.([A-Z][A-Z0-9_]+)|\benv\[['"]([A-Z][A-Z0-9_]+)['"]\]|\benv, '([A-Z][A-Z0-9_]+)'/g)) names.add((m[1] ?? m[2] ?? m[3]) as string);
  }
  return names;
}

const readByConfig = variablesReadIn([join(root, 'src', 'config.ts')]);
// The connection variables are read by @temporalio/envconfig, not by name in our code; src/config.ts lists them.
const readBySources = new Set([...variablesReadIn(filesUnder(join(root, 'src'))), ...Object.values(CONNECTION_FLAGS)]);

describe('docker-compose.yml', () => {
  it('has PostgreSQL, the schema job, one container per Temporal service, the registration, the Web UI, the broker, the worker, the carrier, the relay, the codec server, Prometheus and Grafana', () => {
    expect(Object.keys(services).sort()).toEqual([
      'carrier',
      'codec-server',
      'grafana',
      'nats',
      'postgres',
      'prometheus',
      'register-search-attributes',
      'relay',
      'temporal',
      'temporal-history',
      'temporal-matching',
      'temporal-schema',
      'temporal-ui',
      'temporal-worker',
      'worker',
    ]);
  });

  it('runs the codec server only in the encryption profile, from the worker image, with the keys it needs', () => {
    const codec = service('codec-server') as ReturnType<typeof service> & { profiles?: string[]; command?: string[] };
    expect(codec.profiles).toEqual(['encryption']);
    expect(codec.image).toBe(service('worker').image);
    expect(codec.command).toEqual(['node', 'dist/codec-server.js']);
    const environment = Object.keys(codec.environment ?? {});
    for (const name of ['SAGA_CODEC_KEYS', 'SAGA_CODEC_SERVER_TOKEN', 'SAGA_CODEC_SERVER_ORIGINS']) expect(environment).toContain(name);
    expect(String(codec.environment?.SAGA_CODEC_SERVER_ORIGINS)).toBe('http://localhost:8080');
    expect(Object.keys(service('temporal-ui').environment ?? {})).toContain('TEMPORAL_CODEC_ENDPOINT');
  });

  it('keeps PostgreSQL data in a named volume and checks its health', () => {
    const pg = service('postgres');
    const data = (pg.volumes ?? []).find((v) => v.endsWith(':/var/lib/postgresql/data'));
    expect(data).toBeDefined();
    const volume = data?.split(':')[0] ?? '';
    expect(volume).toMatch(/^[a-z][a-z0-9_-]*$/);
    expect(Object.keys(compose.volumes ?? {})).toContain(volume);
    expect(JSON.stringify(pg.healthcheck?.test)).toContain('pg_isready');
  });

  it('creates the services database the worker connects to', () => {
    const script = (service('postgres').volumes ?? []).find((v) => v.includes('/docker-entrypoint-initdb.d/') && v.includes('saga'));
    const source = script?.split(':')[0] ?? '';
    const text = readFileSync(join(root, source), 'utf8');
    const url = new URL(env('worker').DATABASE_URL ?? '');
    expect(text).toContain(`CREATE ROLE ${url.username} LOGIN`);
    expect(text).toContain(`CREATE DATABASE ${url.pathname.slice(1)} OWNER ${url.username}`);
    expect(env('postgres').SAGA_DB_PASSWORD).toBe(decodeURIComponent(url.password));
  });

  it('runs temporalio/server at the version install-temporal builds, one service per container, on the shared server config', () => {
    for (const [name, role] of Object.entries(temporalServices)) {
      const t = service(name);
      expect(t.image).toBe(`temporalio/server:${SERVER_VERSION}`);
      const command = interpolate(Array.isArray(t.command) ? t.command.join(' ') : (t.command ?? ''));
      expect(command).toContain(`--root /etc/temporal --config config --env ${SERVER_ENV} --allow-no-auth start --service ${role}`);
      expect(command).toContain('TEMPORAL_BROADCAST_ADDRESS=$(hostname -i)');
      expect(t.volumes).toEqual(['./deploy/temporal:/etc/temporal/config:ro']);
      expect(t.depends_on?.['temporal-schema']?.condition).toBe('service_completed_successfully');
      const e = env(name);
      expect(e.DYNAMIC_CONFIG_FILE).toBe(`/etc/temporal/config/dynamicconfig/${SERVER_ENV}.yaml`);
      expect(services[e.TEMPORAL_DB_HOST ?? '']).toBe(service('postgres'));
      expect(e.TEMPORAL_DB_USER).toBe('temporal');
      expect(e.TEMPORAL_DB_PASSWORD).toBe(env('postgres').TEMPORAL_DB_PASSWORD);
      expect(e.TEMPORAL_FRONTEND_ADDRESS).toBe('temporal:7233');
      // Every variable the server config insists on is set.
      for (const name of requiredByServerConfig) expect(e[name], name).toBeTruthy();
    }
    expect(JSON.stringify(service('temporal').healthcheck?.test)).toContain('cluster health');
  });

  it('uses one copy of the server config and its dynamic config, the one `npm run cluster` runs', () => {
    expect(existsSync(join(root, 'deploy', 'temporal', `${SERVER_ENV}.yaml`))).toBe(true);
    expect(existsSync(join(root, 'deploy', 'temporal', 'dynamicconfig', `${SERVER_ENV}.yaml`))).toBe(true);
    const yamls = [...filesNamed(join(root, 'deploy', 'temporal'), /\.ya?ml$/), ...filesNamed(join(root, 'deploy', 'ui'), /\.ya?ml$/)].map((f) => f.slice(root.length + 1)).sort();
    expect(yamls).toEqual(['deploy/temporal/dynamicconfig/saga.yaml', 'deploy/temporal/saga.yaml', 'deploy/ui/saga.yaml']);
    const cluster = readFileSync(join(root, 'tools', 'cluster', 'index.ts'), 'utf8');
    expect(cluster).toContain(`'--root', DEPLOY, '--config', 'temporal', '--env', '${SERVER_ENV}'`);
    expect(cluster).toContain(`join(DEPLOY, 'temporal', 'dynamicconfig', '${SERVER_ENV}.yaml')`);
  });

  it('runs the dev server with the same server settings as the cluster and compose (eager activity execution)', () => {
    const dynamic = parse(readFileSync(join(root, 'deploy', 'temporal', 'dynamicconfig', `${SERVER_ENV}.yaml`), 'utf8')) as Record<string, { value: unknown }[]>;
    expect(Object.keys(sagaDynamicConfig)).toContain('system.enableActivityEagerExecution');
    for (const [key, value] of Object.entries(sagaDynamicConfig)) {
      expect(dynamic[key]?.[0]?.value, key).toEqual(value);
      expect(devServerArgs({ dbFile: null }).join(' ')).toContain(`--dynamic-config-value ${key}=${JSON.stringify(value)}`);
    }
    expect(dynamicConfigArgs({ 'a.b': 'x', 'c.d': 5 })).toEqual(['--dynamic-config-value', 'a.b="x"', '--dynamic-config-value', 'c.d=5']);
  });

  it('creates and migrates both Temporal databases with the schema tool of the same version, then exits', () => {
    const job = service('temporal-schema');
    expect(job.image).toMatch(new RegExp(`^temporalio/admin-tools:${SERVER_VERSION.replace(/\./g, '\\.')}-`));
    expect(job.depends_on?.postgres?.condition).toBe('service_healthy');
    expect(job.restart).toBe('no');
    const command = interpolate(Array.isArray(job.command) ? job.command.join(' ') : (job.command ?? ''));
    for (const step of ['create-database', 'setup-schema -v 0.0', 'update-schema -d /etc/temporal/schema/postgresql/v12/$schema/versioned']) expect(command).toContain(step);
    expect(command).toContain('temporal:temporal temporal_visibility:visibility');
    expect(env('temporal-schema').SQL_USER).toBe('temporal');
    expect(env('temporal-schema').SQL_PASSWORD).toBe(env('postgres').TEMPORAL_DB_PASSWORD);
    // The password travels in the environment, never on a command line.
    expect(command).not.toContain('--pw');
  });

  it('pins every image it pulls to an exact version', () => {
    for (const [name, s] of Object.entries(services)) {
      if (!s.image || s.image.startsWith('saga-temporal-')) continue;
      expect(s.image, name).toMatch(/^[a-z0-9/_-]+:v?\d+\.\d+(\.\d+)?(-[\w.-]+)?$/);
    }
  });

  it('has no default secret: compose refuses to start until the database passwords, SAGA_ID_SECRET and SAGA_CODEC_KEYS are set', () => {
    const text = readFileSync(join(root, 'docker-compose.yml'), 'utf8');
    for (const variable of Object.keys(secrets)) {
      const uses = [...text.matchAll(new RegExp(`\\$\\{${variable}([^}]*)\\}`, 'g'))].map((m) => m[1]);
      expect(uses.length, variable).toBeGreaterThan(0);
      for (const use of uses) expect(use, variable).toMatch(/^:\?/);
    }
    for (const [name, s] of Object.entries(services)) {
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        // Services of an opt-in profile may not stop the whole file from starting, so they take an
        // empty default and refuse to start themselves (test/observability/deploy.test.ts); never a value.
        if (/PASSWORD|PWD|SECRET/.test(key)) expect(String(value), `${name}.${key}`).toMatch(s.profiles ? /^\$\{[A-Z_]+(:\?[^}]*|:-)\}$/ : /^\$\{[A-Z_]+:\?[^}]*\}$/);
      }
    }
  });

  it('keeps the .env file it tells users to put their secrets in out of git', () => {
    expect(readFileSync(join(root, 'docker-compose.yml'), 'utf8')).toMatch(/put them in \.env/);
    // `git check-ignore` prints each path it ignores and exits non-zero when it ignores none.
    const ignored = execFileSync('git', ['check-ignore', '--no-index', '.env', '.env.production'], { cwd: root, encoding: 'utf8' });
    expect(ignored.split('\n').filter(Boolean)).toEqual(['.env', '.env.production']);
  });

  it('gives Temporal a role of its own, owner of its two databases, and the superuser password to no other service', () => {
    const pg = env('postgres');
    expect(pg.POSTGRES_USER).toBe('postgres');
    expect(pg.POSTGRES_PASSWORD).toBe('superuser-secret');
    // Init scripts run in the order of their names: Temporal's role and databases come first.
    const scripts = (service('postgres').volumes ?? []).filter((v) => v.includes('/docker-entrypoint-initdb.d/'));
    expect(scripts.map((v) => v.split(':')[1])).toEqual(['/docker-entrypoint-initdb.d/05-create-temporal-role.sh', '/docker-entrypoint-initdb.d/10-create-saga-database.sh']);
    const text = readFileSync(join(root, 'deploy', 'postgres', 'create-temporal-role.sh'), 'utf8');
    expect(text).toContain("CREATE ROLE temporal LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'temporal_password';");
    expect(text).toContain('CREATE DATABASE temporal OWNER temporal;');
    expect(text).toContain('CREATE DATABASE temporal_visibility OWNER temporal;');
    expect(text).toContain('-v temporal_password="$TEMPORAL_DB_PASSWORD"');
    expect(text.slice(text.indexOf("<<'SQL'"))).not.toMatch(/\$\{?TEMPORAL_DB_PASSWORD/);
    const raw = readFileSync(join(root, 'docker-compose.yml'), 'utf8');
    expect([...raw.matchAll(/\$\{POSTGRES_SUPERUSER_PASSWORD\b/g)]).toHaveLength(1);
    for (const [name, s] of Object.entries(services)) {
      if (name === 'postgres') continue;
      for (const [key, value] of Object.entries(env(name))) expect(value, `${name}.${key}`).not.toBe('superuser-secret');
      for (const key of ['TEMPORAL_DB_USER', 'SQL_USER']) if (s.environment?.[key] !== undefined) expect(env(name)[key], `${name}.${key}`).toBe('temporal');
    }
  });

  it('passes the services database password to psql as a variable, never pasted into the SQL', () => {
    const text = readFileSync(join(root, 'deploy', 'postgres', 'create-saga-database.sh'), 'utf8');
    expect(text).toContain('-v saga_password="$SAGA_DB_PASSWORD"');
    expect(text).toContain("PASSWORD :'saga_password'");
    // A quoted here-document: the shell expands nothing inside the SQL.
    expect(text).toMatch(/<<\s*'SQL'/);
    const sql = text.slice(text.indexOf("<<'SQL'"));
    expect(sql).not.toMatch(/\$\{?SAGA_DB_PASSWORD/);
  });

  it('publishes gRPC on 7233, the Web UI on 8080 and the databases on 127.0.0.1 only, unless PUBLISH_ADDRESS says otherwise', () => {
    expect(service('temporal').ports?.map(interpolate)).toEqual(['127.0.0.1:7233:7233']);
    expect(service('temporal-ui').ports?.map(interpolate)).toEqual(['127.0.0.1:8080:8080']);
    for (const [name, s] of Object.entries(services)) {
      for (const port of s.ports ?? []) {
        expect(port, name).toMatch(/^\$\{PUBLISH_ADDRESS:-127\.0\.0\.1\}:/);
        expect(interpolate(port), name).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
      }
    }
    for (const name of ['temporal-history', 'temporal-matching', 'temporal-worker', 'temporal-schema']) expect(service(name).ports, name).toBeUndefined();
    const published = Object.values(services).flatMap((s) => (s.ports ?? []).map((p) => p.split(':').slice(-2, -1)[0]));
    expect(new Set(published).size).toBe(published.length);
  });

  it('runs the Web UI at the version `npm run cluster` builds', () => {
    expect(service('temporal-ui').image).toBe(`temporalio/ui:${UI_SERVER_VERSION}`);
  });

  it('points the Web UI at the Temporal server', () => {
    expect(env('temporal-ui').TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(service('temporal-ui').depends_on?.temporal?.condition).toBe('service_healthy');
  });

  it("sets every write-action switch of the Web UI on purpose: repairs and cancel on, terminate, reset, batch and start off, and the cluster's UI the same", () => {
    // The switches the UI image's config template reads (temporalio/ui, server/config/docker.yaml).
    const switches = {
      TEMPORAL_DISABLE_WRITE_ACTIONS: 'false',
      TEMPORAL_WORKFLOW_SIGNAL_DISABLED: 'false',
      TEMPORAL_WORKFLOW_UPDATE_DISABLED: 'false',
      TEMPORAL_WORKFLOW_CANCEL_DISABLED: 'false',
      TEMPORAL_WORKFLOW_PAUSE_DISABLED: 'false',
      TEMPORAL_ACTIVITY_COMMANDS_DISABLED: 'false',
      TEMPORAL_WORKFLOW_TERMINATE_DISABLED: 'true',
      TEMPORAL_WORKFLOW_RESET_DISABLED: 'true',
      TEMPORAL_BATCH_ACTIONS_DISABLED: 'true',
      TEMPORAL_START_WORKFLOW_DISABLED: 'true',
    };
    const ui = env('temporal-ui');
    expect(Object.fromEntries(Object.keys(switches).map((name) => [name, ui[name]]))).toEqual(switches);
    // Nothing else of the kind: a switch the list above does not know is a choice nobody made here.
    expect(Object.keys(ui).filter((name) => /DISABLED?(_|$)/.test(name)).sort()).toEqual(Object.keys(switches).sort());
    // The standalone UI of `npm run cluster` has the same defaults, each overridable by the same variable.
    const cluster = readFileSync(join(root, 'deploy', 'ui', 'saga.yaml'), 'utf8');
    const defaults = Object.fromEntries([...cluster.matchAll(/\{\{ env "(TEMPORAL_[A-Z_]*DISABLE[A-Z_]*)" \| default "(true|false)" \}\}/g)].map((m) => [m[1], m[2]]));
    expect(defaults).toEqual(switches);
    // The one switch for a read-only UI is the operator's to set.
    expect(String(service('temporal-ui').environment?.TEMPORAL_DISABLE_WRITE_ACTIONS)).toBe('${TEMPORAL_DISABLE_WRITE_ACTIONS:-false}');
  });

  it('registers every custom search attribute as Keyword once the server is healthy, idempotently', () => {
    const reg = service('register-search-attributes');
    const command = Array.isArray(reg.command) ? reg.command.join(' ') : (reg.command ?? '');
    for (const key of customSearchAttributes) {
      expect(command).toContain(`--name ${key.name} --type Keyword`);
      expect(command).toMatch(new RegExp(`list .*grep -qw ${key.name}\\s*\\|\\|`));
    }
    expect(command).toMatch(/namespace describe --namespace default .*\|\| temporal operator namespace create --namespace default --retention \d+h/);
    expect(env('register-search-attributes').TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(reg.depends_on?.temporal?.condition).toBe('service_healthy');
    expect(reg.restart).toBe('no');
  });

  it('starts the worker only after the database, the server, the search attribute and the broker are ready', () => {
    expect(service('worker').depends_on).toEqual({
      postgres: { condition: 'service_healthy' },
      temporal: { condition: 'service_healthy' },
      'register-search-attributes': { condition: 'service_completed_successfully' },
      nats: { condition: 'service_healthy' },
    });
  });

  it('depends only on services it defines', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const dependency of Object.keys(s.depends_on ?? {})) expect(services[dependency], `${name} → ${dependency}`).toBeDefined();
    }
  });

  it('mounts only files that exist in the repository', () => {
    for (const s of Object.values(services)) {
      for (const v of s.volumes ?? []) {
        const source = v.split(':')[0] ?? '';
        if (source.startsWith('.')) expect(existsSync(join(root, source)), v).toBe(true);
      }
    }
  });
});

describe('the worker service', () => {
  const workerEnv = env('worker');

  it('sets only variables the code reads', () => {
    const unread = Object.keys(workerEnv).filter((name) => !readBySources.has(name));
    expect(unread).toEqual([]);
  });

  it('passes loadWorkerConfig, against the compose services by name', () => {
    const config = loadWorkerConfig(workerEnv);
    expect(config.address).toBe('temporal:7233');
    expect(config.namespace).toBe('default');
    expect(config.taskQueue).toBe('sagas');
    expect(config.databaseUrl).toMatch(/^postgres:\/\//);
    expect(services[new URL(config.databaseUrl).hostname]).toBe(service('postgres'));
    expect(services[config.address.split(':')[0] ?? '']).toBe(service('temporal'));
    expect(config.uiUrl).toBe('http://localhost:8080');
  });

  it('encrypts payloads: the worker runs as production (the Dockerfile) with the keys of .env, and strict', () => {
    expect(dockerfile).toMatch(/NODE_ENV=production/);
    const codec = loadCodecConfig({ ...workerEnv, NODE_ENV: 'production' });
    expect(codec?.keyRing.activeKeyId).toBe('k1');
    expect(codec?.strict).toBe(true);
  });

  it('runs the workflow bundle the Dockerfile builds', () => {
    const bundle = workerEnv.WORKFLOW_BUNDLE_PATH ?? '';
    const built = /npm run build:bundle -- (\S+)/.exec(dockerfile)?.[1];
    const workdir = /^WORKDIR (\S+)$/m.exec(dockerfile)?.[1];
    expect(built).toBeDefined();
    expect(bundle).toBe(`${workdir}/${built}`);
    expect(dockerfile).toContain(`WORKFLOW_BUNDLE_PATH=${bundle}`);
  });

  it('is built from the Dockerfile: Node 20, npm ci, compiled worker', () => {
    expect(service('worker').build?.dockerfile).toBe('Dockerfile');
    expect(dockerfile).toMatch(/^FROM node:20/m);
    expect(dockerfile).toContain('npm ci');
    expect(dockerfile).toMatch(/CMD \["node", "dist\/worker\.js"\]/);
    expect(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts['build:bundle']).toBeDefined();
  });
});

describe('the broker and its services', () => {
  const brokerServices = { carrier: { entry: 'carrier/main', load: loadCarrierConfig }, relay: { entry: 'relay/main', load: loadRelayConfig } };

  it('runs the official nats image at the version install-temporal builds (2.15.3)', () => {
    expect(NATS_SERVER_VERSION).toBe('2.15.3');
    expect(service('nats').image).toBe(`nats:${NATS_SERVER_VERSION}-alpine`);
  });

  it('turns JetStream on with its file store in a named volume, and is healthy only once JetStream answers', () => {
    const nats = service('nats');
    const command = nats.command as string[];
    expect(command[0]).toBe('nats-server');
    expect(command).toContain('--jetstream');
    const store = command[command.indexOf('--store_dir') + 1];
    expect(store).toBe('/data');
    const volume = (nats.volumes ?? []).find((v) => v.endsWith(`:${store}`));
    expect(volume).toBe('natsdata:/data');
    expect(Object.keys(compose.volumes ?? {})).toContain('natsdata');
    const monitor = command[command.indexOf('--http_port') + 1];
    expect(monitor).toBe('8222');
    expect(JSON.stringify(nats.healthcheck?.test)).toContain(`http://127.0.0.1:${monitor}/healthz?js-enabled-only=true`);
    // It has no authentication here: only the compose network reaches it.
    expect(nats.ports).toBeUndefined();
  });

  it('gives the worker, the carrier and the relay the same broker, by service name, with one replica on the one node', () => {
    for (const name of ['worker', 'carrier', 'relay']) {
      const e = env(name);
      expect(e.SAGA_NATS_URL, name).toBe('nats://nats:4222');
      expect(services[new URL(e.SAGA_NATS_URL ?? '').hostname], name).toBe(service('nats'));
      expect(e.SAGA_NATS_REPLICAS, name).toBe('1');
    }
    expect(loadWorkerConfig(env('worker')).natsServers).toEqual(['nats://nats:4222']);
  });

  it('runs the carrier and the relay from the worker image, each with its own compiled entry', () => {
    for (const [name, { entry }] of Object.entries(brokerServices)) {
      const s = service(name);
      expect(s.image, name).toBe(service('worker').image);
      expect(s.build, name).toBeUndefined();
      // tsconfig.build.json compiles src/ to dist/: the entry is the compiled src/<entry>.ts.
      expect(s.command, name).toEqual(['node', `dist/${entry}.js`]);
      expect(existsSync(join(root, 'src', `${entry}.ts`)), `src/${entry}.ts`).toBe(true);
      expect(s.restart, name).toBe('unless-stopped');
    }
  });

  it("passes the carrier's and the relay's own configuration, on the worker's database and broker", () => {
    for (const [name, { load }] of Object.entries(brokerServices)) {
      const e = env(name);
      const config = load(e);
      expect(config.databaseUrl, name).toBe(env('worker').DATABASE_URL);
      expect(config.broker, name).toEqual({ servers: ['nats://nats:4222'], replicas: 1 });
      expect(config.logLevel, name).toBe('info');
      const unread = Object.keys(e).filter((variable) => !readBySources.has(variable));
      expect(unread, name).toEqual([]);
    }
  });

  it('starts the carrier and the relay once the database and the broker are healthy, and the image is built', () => {
    for (const name of Object.keys(brokerServices)) {
      expect(service(name).depends_on, name).toEqual({
        postgres: { condition: 'service_healthy' },
        nats: { condition: 'service_healthy' },
        worker: { condition: 'service_started' },
      });
    }
  });
});

describe('docs/running.md', () => {
  it('documents every variable the configuration reads', () => {
    const doc = readFileSync(join(root, 'docs', 'running.md'), 'utf8');
    expect(readByConfig.size).toBeGreaterThan(10);
    const undocumented = [...readByConfig].filter((name) => !doc.includes(`\`${name}\``));
    expect(undocumented).toEqual([]);
  });
});
