// `npm start`: the whole local stack in one process tree (Temporal dev server with its Web UI, the
// services' database, the worker) and a short demonstration of both sagas, then it runs until Ctrl-C.
import { appendFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { DefaultLogger, NativeConnection, Runtime, type LogEntry, type Worker } from '@temporalio/worker';
import { table, workflowUrl } from '../src/cli/render';
import { sagaOutcome, type SagaOutcome } from '../src/cli/outcome';
import { dataConverterFor, loadCodecConfig } from '../src/codec';
import { connectionOptions, databaseOptions, loadWorkerConfig, type WorkerConfig } from '../src/config';
import { isReachable } from '../src/reachable';
import { startDevServer, type DevServer } from '../tools/devserver';
import { startOrder } from '../src/order/start';
import { startRegistration } from '../src/registration/start';
import type { OrderInput } from '../src/order/contract';
import { customSearchAttributes } from '../src/shared/search-attributes';
import { createServices, type Services } from '../src/services';
import { checkSearchAttributes, createSagaWorker } from '../src/worker';
import { verificationStateQuery, verifyEmailUpdate } from '../src/registration/contract';
import type { OrderResult } from '../src/order/contract';

/** How to bring the stack up. */
export interface StackOptions {
  /** Environment the worker configuration is read from. @default process.env */
  env?: Record<string, string | undefined>;
  /** Folder for the dev server's SQLite file, the services' database and the logs. @default ".data" */
  dataDir?: string;
  /** Web UI port of a dev server started here. @default the gRPC port + 1000 */
  uiPort?: number;
  /** Receives progress lines. @default console.log */
  log?: (line: string) => void;
}

/** The running stack. */
export interface Stack {
  config: WorkerConfig;
  /** Base URL of the Web UI. */
  uiUrl: string;
  /** Whether the stack started its own dev server (rather than using a reachable one). */
  ownServer: boolean;
  client: Client;
  services: Services;
  /** Drains the worker, closes the connections and the database, and stops the dev server if it started one. */
  stop(): Promise<void>;
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

function splitAddress(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at), port: Number(address.slice(at + 1)) };
}

/** Routes the SDK's logs to a file, so the demo's output stays readable while failures are still on record. */
function installFileLogger(file: string, level: WorkerConfig['logLevel']): void {
  Runtime.install({
    // The stack stops the worker itself, after the demo and before the server.
    shutdownSignals: [],
    logger: new DefaultLogger(level.toUpperCase() as 'INFO', (entry: LogEntry) => {
      const time = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
      appendFileSync(file, `${JSON.stringify({ time, level: entry.level.toLowerCase(), msg: entry.message, ...entry.meta }, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
    }),
  });
}

/**
 * Starts the local stack: uses the Temporal server at `TEMPORAL_ADDRESS` if one answers there, else
 * starts the dev server on that port; opens the services' database and runs the worker in-process.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const log = options.log ?? ((line: string) => console.log(line));
  const dataDir = resolve(options.dataDir ?? '.data');
  mkdirSync(dataDir, { recursive: true });
  const env = { ...(options.env ?? process.env) };
  env.DATABASE_URL ||= `sqlite:${join(dataDir, 'saga.db')}`;
  const config = loadWorkerConfig(env);

  let server: DevServer | undefined;
  let uiUrl = config.uiUrl;
  if (await isReachable(config.address)) {
    log(`Using the Temporal server at ${config.address}`);
  } else {
    const { host, port } = splitAddress(config.address);
    if (!LOCAL_HOSTS.has(host)) throw new Error(`TEMPORAL_ADDRESS=${config.address} does not answer, and a dev server can only be started on this machine.`);
    log(`Starting the Temporal dev server on port ${port} (state in ${join(dataDir, 'temporal.db')})…`);
    server = await startDevServer({
      port,
      ...(options.uiPort ? { uiPort: options.uiPort } : {}),
      dbFile: join(dataDir, 'temporal.db'),
      logFile: join(dataDir, 'temporal-server.log'),
      ...(env.TEMPORAL_CODEC_ENDPOINT ? { codecEndpoint: env.TEMPORAL_CODEC_ENDPOINT } : {}),
    });
    uiUrl = env.TEMPORAL_UI_URL ? config.uiUrl : server.uiUrl;
    config.address = server.address;
  }

  const cleanups: (() => Promise<void>)[] = [];
  const cleanUp = async () => {
    for (const fn of cleanups.reverse()) await fn().catch((err: unknown) => log(`While stopping: ${err instanceof Error ? err.message : String(err)}`));
    cleanups.length = 0;
  };
  if (server) cleanups.push(server.stop);
  try {
    installFileLogger(join(dataDir, 'worker.log'), config.logLevel);
    const nativeConnection = await NativeConnection.connect(connectionOptions(config));
    cleanups.push(() => nativeConnection.close());
    await ensureSearchAttributes(nativeConnection, config);
    const services = await createServices({
      databaseUrl: config.databaseUrl,
      operatorEmail: config.operatorEmail,
      database: databaseOptions(config),
      ...(config.faults ? { faults: config.faults } : {}),
    });
    cleanups.push(() => services.close());
    const connection = await Connection.connect(connectionOptions(config));
    cleanups.push(() => connection.close());
    const dataConverter = dataConverterFor(loadCodecConfig(env));
    const client = new Client({ connection, namespace: config.namespace, ...(dataConverter ? { dataConverter } : {}) });

    log(config.workflowBundlePath ? 'Starting the worker…' : 'Bundling the workflows and starting the worker…');
    const worker: Worker = await createSagaWorker({ connection: nativeConnection, config, services, overrides: dataConverter ? { dataConverter } : {} });
    const running = worker.run();
    cleanups.push(async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    });
    log(`Worker polling task queue "${config.taskQueue}" in namespace "${config.namespace}"; logs in ${join(dataDir, 'worker.log')}`);
    return { config, uiUrl, ownServer: Boolean(server), client, services, stop: cleanUp };
  } catch (err) {
    await cleanUp();
    throw err;
  }
}

/** A server that was not started here may lack the search attribute: register it where the server allows. */
async function ensureSearchAttributes(connection: NativeConnection, config: WorkerConfig): Promise<void> {
  try {
    await checkSearchAttributes(connection, config);
  } catch {
    await connection.operatorService.addSearchAttributes({
      namespace: config.namespace,
      searchAttributes: Object.fromEntries(customSearchAttributes.map((key) => [key.name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
    });
    await checkSearchAttributes(connection, config);
  }
}

/** One saga of the demo and how it ended. */
export interface DemoRow {
  kind: 'order' | 'registration';
  /** What the demo set out to show. */
  scenario: string;
  outcome: SagaOutcome;
  uiUrl: string;
}

function order(orderId: string, overrides: Partial<OrderInput> = {}): OrderInput {
  return {
    orderId,
    customerId: 'c-demo',
    email: 'ada@example.com',
    items: [
      { sku: 'sku-widget', quantity: 2, unitPriceCents: 1999 },
      { sku: 'sku-gadget', quantity: 1, unitPriceCents: 4999 },
    ],
    payment: { token: 'tok_visa' },
    shippingAddress: { name: 'Ada Lovelace', line1: '12 St James Sq', city: 'London', postalCode: 'SW1Y 4JH', country: 'GB' },
    ...overrides,
  };
}

async function waitForPhase(handle: WorkflowHandle, phase: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await handle.query(verificationStateQuery);
    if (state.phase === phase) return;
    if (Date.now() > deadline) throw new Error(`${handle.workflowId} did not reach verification phase ${phase} (it is ${state.phase})`);
    await new Promise((done) => setTimeout(done, 200));
  }
}

/**
 * Runs the demonstration against a running worker: four orders (one completes, one retries a flaky
 * payment provider, one is declined, one cannot be shipped and is undone step by step) and two
 * registrations (one verified with the code read from the mail outbox, one whose address bounces).
 */
export async function runDemo(opts: { client: Client; services: Pick<Services, 'mail'>; config: Pick<WorkerConfig, 'taskQueue' | 'namespace' | 'idSecret'>; uiUrl: string; runId?: string }): Promise<DemoRow[]> {
  const { client, services, config } = opts;
  const run = opts.runId ?? Date.now().toString(36);
  const start = { taskQueue: config.taskQueue, idSecret: config.idSecret };
  const describeOrder = (r: unknown) => {
    const result = r as OrderResult;
    return `shipped with ${result.carrier}, tracking ${result.trackingNumber}`;
  };

  const orders: { scenario: string; input: OrderInput }[] = [
    { scenario: 'order that completes', input: order(`demo-${run}-1`) },
    { scenario: 'flaky payment provider, retried', input: order(`demo-${run}-2`, { payment: { token: 'tok_flaky' } }) },
    { scenario: 'payment declined', input: order(`demo-${run}-3`, { payment: { token: 'tok_declined' } }) },
    {
      scenario: 'undeliverable: refund, void, release',
      input: order(`demo-${run}-4`, { shippingAddress: { name: 'Station Crew', line1: 'McMurdo Station', city: 'Ross Island', postalCode: '96599', country: 'AQ' } }),
    },
  ];
  const orderRuns = orders.map(async ({ scenario, input }) => {
    const handle = await startOrder(client, input, start);
    return { kind: 'order' as const, scenario, outcome: await sagaOutcome(client, handle, describeOrder) };
  });

  const verifiedEmail = `grace.${run}@example.com`;
  const verified = (async () => {
    const handle = await startRegistration(client, { email: verifiedEmail, name: 'Grace Hopper', verificationTimeout: '10m' }, start);
    await waitForPhase(handle, 'waiting');
    const code = await services.mail.latestVerificationCode(verifiedEmail);
    if (!code) throw new Error(`No verification code in the outbox for ${verifiedEmail}`);
    await handle.executeUpdate(verifyEmailUpdate, { args: [{ code }] });
    const outcome = await sagaOutcome(client, handle, () => `verified with code ${code} from the outbox, account active`);
    return { kind: 'registration' as const, scenario: 'verified with the code from the outbox', outcome };
  })();
  const bounced = (async () => {
    const handle = await startRegistration(client, { email: `nobody.${run}@bounce.test`, name: 'No Body' }, start);
    return { kind: 'registration' as const, scenario: 'address bounces: account deleted', outcome: await sagaOutcome(client, handle) };
  })();

  const rows = await Promise.all([...orderRuns, verified, bounced]);
  return rows.map((row) => ({ ...row, uiUrl: workflowUrl(opts.uiUrl, config.namespace, row.outcome.workflowId) }));
}

/** The demo's summary: one row per saga with its outcome, what was undone and its Web UI link. */
export function demoSummary(rows: readonly DemoRow[]): string {
  return table(
    ['WORKFLOW ID', 'SCENARIO', 'OUTCOME', 'COMPENSATED', 'DETAIL', 'WEB UI'],
    rows.map((r) => [r.outcome.workflowId, r.scenario, r.outcome.status, r.outcome.compensated.join(', ') || '-', r.outcome.message, r.uiUrl]),
    200,
  );
}

const HELP = `Usage: npm start -- [options]

Brings up the local stack: the Temporal dev server (unless one answers at TEMPORAL_ADDRESS), the
services' database and the worker; runs a short demo of both sagas; runs until Ctrl-C.

Options:
  --no-demo           Start the stack without the demo
  --demo-only         Only run the demo, against a server and worker already running (TEMPORAL_ADDRESS, DATABASE_URL)
  --exit-after-demo   Stop the stack once the demo summary is printed
  --data-dir <dir>    Dev server state, services database and logs (default .data)
  --ui-port <port>    Web UI port of a dev server started here (default: gRPC port + 1000)
  -h, --help          Show this help
`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      'no-demo': { type: 'boolean' },
      'demo-only': { type: 'boolean' },
      'exit-after-demo': { type: 'boolean' },
      'data-dir': { type: 'string' },
      'ui-port': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values['demo-only']) return demoOnly();

  const uiPort = values['ui-port'] ? Number(values['ui-port']) : undefined;
  let stack: Stack | undefined = undefined;
  let interrupted = false;
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      console.log('\nStopping: draining the worker, then the server…');
      await stack?.stop();
      console.log('Stopped.');
    })();
    return stopping;
  };
  const onSignal = () => {
    // A second Ctrl-C does not wait for the drain; the exit handler still kills a server started here.
    if (stopping || (interrupted && !stack)) process.exit(130);
    interrupted = true;
    if (stack) void stop().then(() => process.exit(0));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  stack = await startStack({ ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}), ...(uiPort ? { uiPort } : {}) });
  // Ctrl-C while the stack was coming up: take it down again rather than leave it running.
  if (interrupted) {
    await stop();
    return 130;
  }

  try {
    console.log(`\nWeb UI: ${stack.uiUrl}/namespaces/${stack.config.namespace}/workflows`);
    if (!values['no-demo']) {
      console.log('\nRunning the demo…');
      const rows = await runDemo({ client: stack.client, services: stack.services, config: stack.config, uiUrl: stack.uiUrl });
      console.log(`\nDemo summary\n\n${demoSummary(rows)}\n`);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  if (values['exit-after-demo']) {
    await stop();
    return 0;
  }
  console.log(`The stack is running at ${stack.config.address}. Try: npm run client -- list    (Ctrl-C to stop)`);
  await new Promise<never>(() => undefined);
  return 0;
}

async function demoOnly(): Promise<number> {
  const config = loadWorkerConfig();
  if (!(await isReachable(config.address))) throw new Error(`No Temporal server answers at ${config.address}: start the stack first (npm start, or docker compose up).`);
  const connection = await Connection.connect(connectionOptions(config));
  const services = await createServices({ databaseUrl: config.databaseUrl });
  try {
    const rows = await runDemo({ client: new Client({ connection, namespace: config.namespace }), services, config, uiUrl: config.uiUrl });
    console.log(`\nDemo summary\n\n${demoSummary(rows)}\n`);
    return 0;
  } finally {
    await services.close();
    await connection.close();
  }
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`npm start failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
