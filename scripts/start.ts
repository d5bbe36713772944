// `npm start`: the whole local stack in one process tree (Temporal dev server with its Web UI, a NATS
// JetStream node, the services' database, the carrier and the outbox relay, the worker) and a short
// demonstration of both sagas, then it runs until Ctrl-C.
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { connectionOptions, loadWorkerConfig } from '../src/config';
import { isReachable } from '../src/reachable';
import { createServices } from '../src/services';
import { demoSummary, runDemo } from './lib/demo';
import { startStack, type Stack } from './lib/stack';

// A local tool: without a NODE_ENV of its own it declares development, since every process that is
// not is treated as production and refuses to start without keys (src/config.ts, isProduction).
process.env.NODE_ENV ??= 'development';

const HELP = `Usage: npm start -- [options]

Brings up the local stack: the Temporal dev server (unless one answers at TEMPORAL_ADDRESS), a NATS
JetStream node (unless a broker answers at SAGA_NATS_URL), the services' database, the carrier and
the outbox relay, and the worker; runs a short demo of both sagas; runs until Ctrl-C, which stops
the worker, the carrier and the relay, the broker and the dev server, in that order (only what it
started).

Options:
  --no-demo           Start the stack without the demo
  --demo-only         Only run the demo, against a server and worker already running (TEMPORAL_ADDRESS, DATABASE_URL)
  --exit-after-demo   Stop the stack once the demo summary is printed
  --data-dir <dir>    Dev server state, broker store, services database and logs (default .data)
  --ui-port <port>    Web UI port of a dev server started here (default: gRPC port + 1000)
  -h, --help          Show this help
`;

/** How long after a Ctrl-C another SIGINT counts as the same press rather than a second one. */
const SAME_PRESS_MS = 1_000;

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

  const uiPort = values['ui-port'] === undefined ? undefined : Number(values['ui-port']);
  // A port that is not one would be dropped silently and the Web UI would land somewhere unexpected.
  if (uiPort !== undefined && !(Number.isInteger(uiPort) && uiPort >= 1 && uiPort <= 65_535 && /^\d+$/.test(values['ui-port'] ?? ''))) {
    console.error(`npm start: --ui-port must be a port number from 1 to 65535 (got "${values['ui-port']}")`);
    return 2;
  }
  let stack: Stack | undefined = undefined;
  let interrupted = false;
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      console.log('\nStopping: draining the worker, then the carrier and the relay, the broker, the server… (Ctrl-C again to stop without waiting)');
      await stack?.stop();
      console.log('Stopped.');
    })();
    return stopping;
  };
  let firstSignalAt = 0;
  const onSignal = () => {
    // One Ctrl-C can arrive more than once: the terminal signals the whole process group and npm and
    // tsx each pass it on. A repeat within a second is that same press, and must not skip the drain.
    if (interrupted && Date.now() - firstSignalAt < SAME_PRESS_MS) return;
    // A second Ctrl-C does not wait for the drain; the exit handler still kills a server started here.
    if (stopping || (interrupted && !stack)) process.exit(130);
    interrupted = true;
    firstSignalAt = Date.now();
    if (stack) void stop().then(() => process.exit(0));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  stack = await startStack({ ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}), ...(uiPort !== undefined ? { uiPort } : {}) });
  // Ctrl-C while the stack was coming up: take it down again rather than leave it running.
  if (interrupted) {
    await stop();
    return 130;
  }

  try {
    console.log(`\nWeb UI: ${stack.uiUrl}/namespaces/${stack.config.namespace}/workflows`);
    console.log(`Broker: ${stack.broker.servers.join(',')} (NATS JetStream${stack.broker.own ? ', started here' : ''})`);
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
  console.log(`The stack is running at ${stack.config.address}, its broker at ${stack.broker.servers.join(',')}. Try: npm run client -- list    (Ctrl-C to stop)`);
  await new Promise<never>(() => undefined);
  return 0;
}

async function demoOnly(): Promise<number> {
  const config = loadWorkerConfig();
  if (!(await isReachable(config.address))) throw new Error(`No Temporal server answers at ${config.address}: start the stack first (npm start, or docker compose up).`);
  const connection = await Connection.connect(connectionOptions(config));
  const services = await createServices({ databaseUrl: config.databaseUrl, secret: config.idSecret });
  try {
    const rows = await runDemo({ client: new Client({ connection, namespace: config.namespace }), services, config, uiUrl: config.uiUrl });
    console.log(`\nDemo summary\n\n${demoSummary(rows)}\n`);
    return 0;
  } finally {
    await services.close();
    await connection.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`npm start failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);

