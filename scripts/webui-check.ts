// `npm run webui-check`: looks at a compensated order in the Temporal Web UI the way a person would,
// in headless Chromium: the workflow list filtered by SagaStatus, the saga's search attributes, and
// its history with the compensation activities and their summaries. Saves screenshots as evidence.
//
// `npm run webui-check -- --codec` proves the encryption path instead: payloads encrypted with a
// throwaway key, the UI decoding them through the codec server for a browser that signed in, and
// neither the UI without a session nor the server's own history showing the clear text.
//
// `npm run webui-check -- --repair` repairs from the browser: two orders stuck in COMPENSATION_FAILED,
// one retried and one skipped through the UI's "Send an Update", with encryption on and the UI
// encoding the updates' input through the codec server.
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { AesGcmPayloadCodec, KeyRing } from '../src/codec';
import { createCodecServer } from '../src/codec/server';
import { sagaOutcome } from '../src/report';
import { startOrder } from '../src/order/start';
import { freePort } from './lib/ports';
import { sampleOrder, UNDELIVERABLE_ADDRESS } from './lib/sample-order';
import { startStack } from './lib/stack';
import { chromiumPath, type UiCheck } from './lib/webui/browser';
import { checkWebUi } from './lib/webui/compensated-order';
import { checkDecodedPayloads, CODEC_CHECK_CLEAR_TEXT, codecCheckOrder, recordingLogger, type CodecRequest } from './lib/webui/decoded-payloads';
import { checkRepairInUi } from './lib/webui/repair-orders';
import { checkStoredHistory } from './lib/webui/stored-history';
import { FAILING_COMPENSATION, stuckOrders } from './lib/webui/stuck-orders';

// A local tool: without a NODE_ENV of its own it declares development, since every process that is
// not is treated as production and refuses to start without keys (src/config.ts, isProduction).
process.env.NODE_ENV ??= 'development';

const HELP = `Usage: npm run webui-check -- [options]

Starts the stack (or uses the server at TEMPORAL_ADDRESS), runs an order that cannot be shipped and is
compensated, then checks it in the Web UI with headless Chromium (${chromiumPath()}, or CHROMIUM_PATH).

With --codec it checks encryption instead: it makes a throwaway key and token, runs the stack with
encrypted payloads and a codec server (in this process), runs an order, and checks that the Web UI
shows its input decoded after signing in at the codec server, shows only ciphertext without signing
in, and that the server's stored history holds no clear text.

With --repair it checks repairs from the browser: with encryption on as for --codec (and an encode
token, which the operator signs in with), two orders wait in COMPENSATION_FAILED (refunds refused by
fault injection, their retries cut short); from the UI one gets retryCompensation with a list of
steps and the other skipCompensation with a reason, and both must end COMPENSATED with the updates'
input shown decoded in their histories and stored encrypted.

Options:
  --codec                The encryption check
  --repair               The repair check
  --out-dir <dir>        Screenshots (default .artifacts/webui, with --codec .artifacts/webui-codec,
                         with --repair .artifacts/webui-repair; docs/images/webui-repair refreshes
                         the images of docs/operations.md)
  --readme-image <file>  Also copy the key screenshot here (default: none, so a check run leaves the
                         tracked images alone; docs/images/webui-compensated-order.png, with --codec
                         docs/images/webui-decoded-payload.png, refreshes the README's)
  --data-dir <dir>       Stack state when it starts its own server (default .data; with --codec or
                         --repair a temporary folder, removed afterwards: its histories need the throwaway key)
  --ui-port <port>       Web UI port of a dev server started here
  --codec-port <port>    Codec server port with --codec or --repair (default: a free port)
  -h, --help             Show this help
`;

type Args = { 'out-dir'?: string; 'readme-image'?: string; 'data-dir'?: string; 'ui-port'?: string; 'codec-port'?: string };

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      codec: { type: 'boolean' },
      repair: { type: 'boolean' },
      'out-dir': { type: 'string' },
      'readme-image': { type: 'string' },
      'data-dir': { type: 'string' },
      'ui-port': { type: 'string' },
      'codec-port': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (!existsSync(chromiumPath())) {
    console.error(`No Chromium at ${chromiumPath()}: install it (apt-get install -y chromium) or set CHROMIUM_PATH.`);
    return 2;
  }
  // Exiting (rather than dying of the signal) runs the exit handler that kills a dev server started here.
  process.on('SIGINT', () => process.exit(130));
  process.on('SIGTERM', () => process.exit(143));
  if (values.codec && values.repair) {
    console.error('--codec and --repair are two checks: run one at a time.');
    return 2;
  }
  return values.repair ? repairCheck(values) : values.codec ? codecCheck(values) : compensationCheck(values);
}

function report(checks: readonly UiCheck[], screenshots: readonly string[], readme: string, readmeSource: string): number {
  for (const c of checks) console.log(`${c.ok ? 'ok  ' : 'FAIL'}  ${c.name}${c.detail ? `: ${c.detail}` : ''}`);
  for (const s of screenshots) console.log(`screenshot: ${s}`);
  const source = screenshots.find((s) => s.endsWith(readmeSource));
  if (readme && source) {
    mkdirSync(dirname(resolve(readme)), { recursive: true });
    copyFileSync(source, readme);
    console.log(`README image: ${readme}`);
  }
  const failed = checks.filter((c) => !c.ok).length;
  console.log(`Web UI check: ${checks.length - failed} of ${checks.length} checks passed`);
  return failed;
}

async function compensationCheck(values: Args): Promise<number> {
  const stack = await startStack({
    ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}),
    ...(values['ui-port'] ? { uiPort: Number(values['ui-port']) } : {}),
  });
  try {
    const orderId = `webui-${Date.now().toString(36)}`;
    const handle = await startOrder(stack.client, sampleOrder(orderId, { customerId: 'c-webui', shippingAddress: UNDELIVERABLE_ADDRESS }), { taskQueue: stack.config.taskQueue });
    const outcome = await sagaOutcome(stack.client, handle);
    console.log(`${handle.workflowId}: ${outcome.status} (${outcome.message}); undone: ${outcome.compensated.join(', ')}`);
    const { runId } = await handle.describe();
    const result = await checkWebUi({
      uiUrl: stack.uiUrl,
      namespace: stack.config.namespace,
      workflowId: handle.workflowId,
      runId,
      orderId,
      ...(values['out-dir'] ? { outDir: values['out-dir'] } : {}),
    });
    const failed = report(result.checks, result.screenshots, values['readme-image'] ?? '', '04-timeline-compensation.png');
    return failed === 0 && outcome.status === 'COMPENSATED' ? 0 : 1;
  } finally {
    await stack.stop();
  }
}

/** A stack running with a throwaway key, and a codec server of its own that its Web UI is wired to. */
interface EncryptedStack {
  stack: Awaited<ReturnType<typeof startStack>>;
  codec: AesGcmPayloadCodec;
  codecUrl: string;
  token: string;
  requests: CodecRequest[];
}

/**
 * Starts the stack with a key and tokens of its own (the check never needs, or prints, anyone's real
 * secrets) and a codec server answering its UI's origin, runs `check`, then stops both and removes the
 * data folder it made. With `encodeToken`, a session signed in with that token may also encode.
 */
async function withEncryptedStack(values: Args, name: string, encodeToken: string | undefined, check: (run: EncryptedStack) => Promise<number>): Promise<number> {
  const keyRing = new KeyRing([{ id: name, key: randomBytes(32) }]);
  const keys = `${keyRing.activeKeyId}:${Buffer.from(keyRing.activeKey).toString('base64')}`;
  const token = randomBytes(24).toString('base64url');
  const codecPort = values['codec-port'] ? Number(values['codec-port']) : await freePort();
  // localhost, like the UI's URL: the session cookie is SameSite=Strict, and 127.0.0.1 is another site.
  const codecUrl = `http://localhost:${codecPort}`;
  const dataDir = values['data-dir'] ?? mkdtempSync(join(tmpdir(), `saga-${name}-`));
  const requests: CodecRequest[] = [];
  try {
    const stack = await startStack({
      env: { ...process.env, SAGA_CODEC_KEYS: keys, TEMPORAL_CODEC_ENDPOINT: codecUrl },
      dataDir,
      ...(values['ui-port'] ? { uiPort: Number(values['ui-port']) } : {}),
    });
    const codec = new AesGcmPayloadCodec(keyRing);
    // Created once the UI's URL is known: the codec server answers that origin's browsers only.
    const codecServer = createCodecServer({
      codec,
      token,
      ...(encodeToken ? { encodeToken } : {}),
      allowedOrigins: [new URL(stack.uiUrl).origin],
      namespace: stack.config.namespace,
      logger: recordingLogger(requests),
    });
    try {
      await codecServer.listen(codecPort);
      return await check({ stack, codec, codecUrl, token, requests });
    } finally {
      await codecServer.stop();
      await stack.stop();
    }
  } finally {
    if (!values['data-dir']) rmSync(dataDir, { recursive: true, force: true });
  }
}

function codecCheck(values: Args): Promise<number> {
  return withEncryptedStack(values, 'webui-codec', undefined, async ({ stack, codec, codecUrl, token, requests }) => {
    const handle = await startOrder(stack.client, codecCheckOrder(`webui-codec-${Date.now().toString(36)}`), { taskQueue: stack.config.taskQueue });
    const outcome = await sagaOutcome(stack.client, handle);
    console.log(`${handle.workflowId}: ${outcome.status} (${outcome.message})`);
    const { runId } = await handle.describe();
    const target = { namespace: stack.config.namespace, workflowId: handle.workflowId, runId, clearText: Object.values(CODEC_CHECK_CLEAR_TEXT) };
    const ui = await checkDecodedPayloads({
      ...target,
      uiUrl: stack.uiUrl,
      codecUrl,
      token,
      codecRequests: () => requests,
      ...(stack.ownServer ? { clusterCodecEndpoint: codecUrl } : {}),
      ...(values['out-dir'] ? { outDir: values['out-dir'] } : {}),
    });
    const stored = await checkStoredHistory({ ...target, client: stack.client, codec });
    const decodes = requests.filter((r) => r.route === 'decode');
    console.log(`Codec server: ${decodes.filter((r) => r.status === 200).length} decode requests answered, ${decodes.filter((r) => r.status === 401).length} refused without a session`);
    const failed = report([...ui.checks, ...stored], ui.screenshots, values['readme-image'] ?? '', '03-decoded-input.png');
    return failed === 0 && outcome.status === 'COMPLETED' ? 0 : 1;
  });
}

function repairCheck(values: Args): Promise<number> {
  // Updates from the UI need their input encoded: only a session signed in with this token may.
  const encodeToken = randomBytes(24).toString('base64url');
  return withEncryptedStack(values, 'webui-repair', encodeToken, async ({ stack, codecUrl, requests }) => {
    const suffix = Date.now().toString(36);
    const orderIds = [`repair-retry-${suffix}`, `repair-skip-${suffix}`];
    const handles = await stuckOrders({ client: stack.client, services: stack.services, taskQueue: stack.config.taskQueue, orderIds });
    const [retry, skip] = await Promise.all(handles.map(async (handle, i) => ({ workflowId: handle.workflowId, runId: (await handle.describe()).runId, orderId: orderIds[i]! })));
    if (!retry || !skip) throw new Error(`expected two stuck orders, got ${handles.length}`);
    console.log(`${retry.workflowId}, ${skip.workflowId}: COMPENSATION_FAILED (${FAILING_COMPENSATION.activity} refused)`);
    const ui = await checkRepairInUi({
      uiUrl: stack.uiUrl,
      namespace: stack.config.namespace,
      codecUrl,
      encodeToken,
      retry,
      retrySteps: [FAILING_COMPENSATION.step],
      skip,
      skipStep: FAILING_COMPENSATION.step,
      skipReason: 'Refunded by hand, ticket OPS-7',
      client: stack.client,
      codecRequests: () => requests,
      ...(values['out-dir'] ? { outDir: values['out-dir'] } : {}),
    });
    const encodes = requests.filter((r) => r.route === 'encode');
    console.log(`Codec server: ${encodes.filter((r) => r.status === 200).length} encode requests answered`);
    return report(ui.checks, ui.screenshots, '', '') === 0 ? 0 : 1;
  });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`webui-check failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);

