import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadWorkerConfig } from '../src/config';
import { customSearchAttributes } from '../src/search-attributes';

// No Docker engine runs where the tests run, so the deployment is checked by reading it: the services
// and their wiring, and that the worker's environment is exactly what the code reads.

const root = resolve(__dirname, '..');

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
}

const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8')) as { services: Record<string, Service>; volumes?: Record<string, unknown> };
const services = compose.services;
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');

function service(name: string): Service {
  const s = services[name];
  if (!s) throw new Error(`docker-compose.yml has no service ${name}`);
  return s;
}

/** Compose's `${VAR:-default}` interpolation with nothing set in the environment, and `$$` escapes. */
function interpolate(value: string): string {
  return value.replace(/\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}/g, (_m, _name: string, fallback?: string) => fallback ?? '').replace(/\$\$/g, '$');
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
const readBySources = variablesReadIn(filesUnder(join(root, 'src')));

describe('docker-compose.yml', () => {
  it('has PostgreSQL, the Temporal server, its Web UI, the search-attribute registration, the worker and the codec server', () => {
    expect(Object.keys(services).sort()).toEqual(['codec-server', 'postgres', 'register-search-attributes', 'temporal', 'temporal-ui', 'worker']);
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
    const script = (service('postgres').volumes ?? []).find((v) => v.includes('/docker-entrypoint-initdb.d/'));
    const source = script?.split(':')[0] ?? '';
    const text = readFileSync(join(root, source), 'utf8');
    const url = new URL(env('worker').DATABASE_URL ?? '');
    expect(text).toContain(`CREATE ROLE ${url.username} LOGIN`);
    expect(text).toContain(`CREATE DATABASE ${url.pathname.slice(1)} OWNER ${url.username}`);
    expect(env('postgres').SAGA_DB_PASSWORD).toBe(decodeURIComponent(url.password));
  });

  it('sets up the Temporal schema on that PostgreSQL and waits for it to be healthy', () => {
    const t = service('temporal');
    expect(t.image).toMatch(/^temporalio\/auto-setup:\d+\.\d+\.\d+$/);
    const e = env('temporal');
    expect(e.DB).toMatch(/^postgres/);
    expect(services[e.POSTGRES_SEEDS ?? '']).toBe(service('postgres'));
    expect(e.POSTGRES_USER).toBe(env('postgres').POSTGRES_USER);
    expect(e.POSTGRES_PWD).toBe(env('postgres').POSTGRES_PASSWORD);
    expect(t.depends_on?.postgres?.condition).toBe('service_healthy');
    expect(JSON.stringify(t.healthcheck?.test)).toContain('cluster health');
    const dynamicConfig = (t.volumes ?? []).find((v) => v.includes('/etc/temporal/config/dynamicconfig'))?.split(':')[0] ?? '';
    expect(existsSync(join(root, dynamicConfig, 'development-sql.yaml'))).toBe(true);
    expect(e.DYNAMIC_CONFIG_FILE_PATH).toBe('config/dynamicconfig/development-sql.yaml');
  });

  it('publishes gRPC on 7233, the Web UI on 8080 and the services database on loopback only', () => {
    expect(service('temporal').ports).toContain('7233:7233');
    expect(service('temporal-ui').ports).toContain('8080:8080');
    expect(service('postgres').ports?.every((p) => p.startsWith('127.0.0.1:'))).toBe(true);
    const published = Object.values(services).flatMap((s) => (s.ports ?? []).map((p) => p.split(':').slice(-2, -1)[0]));
    expect(new Set(published).size).toBe(published.length);
  });

  it('points the Web UI at the Temporal server', () => {
    expect(env('temporal-ui').TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(service('temporal-ui').depends_on?.temporal?.condition).toBe('service_healthy');
  });

  it('registers every custom search attribute as Keyword once the server is healthy, idempotently', () => {
    const reg = service('register-search-attributes');
    const command = Array.isArray(reg.command) ? reg.command.join(' ') : (reg.command ?? '');
    for (const key of customSearchAttributes) {
      expect(command).toContain(`--name ${key.name} --type Keyword`);
      expect(command).toMatch(new RegExp(`list .*grep -qw ${key.name}\\s*\\|\\|`));
    }
    expect(env('register-search-attributes').TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(reg.depends_on?.temporal?.condition).toBe('service_healthy');
    expect(reg.restart).toBe('no');
  });

  it('starts the worker only after the database, the server and the search attribute are ready', () => {
    expect(service('worker').depends_on).toEqual({
      postgres: { condition: 'service_healthy' },
      temporal: { condition: 'service_healthy' },
      'register-search-attributes': { condition: 'service_completed_successfully' },
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

describe('docs/running.md', () => {
  it('documents every variable the configuration reads', () => {
    const doc = readFileSync(join(root, 'docs', 'running.md'), 'utf8');
    expect(readByConfig.size).toBeGreaterThan(10);
    const undocumented = [...readByConfig].filter((name) => !doc.includes(`\`${name}\``));
    expect(undocumented).toEqual([]);
  });
});
