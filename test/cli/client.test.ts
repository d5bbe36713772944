import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { commands, runCli } from '../../src/cli';
import { loadWorkerConfig } from '../../src/config';
import { orderWorkflowId } from '../../src/order/start';
import { registrationWorkflowId } from '../../src/registration/start';
import { createServices, type Services } from '../../src/services';
import { createSagaWorker } from '../../src/worker';
import { createDevServerEnv, uniqueTaskQueue, workflowBundle } from '../helpers';
import { freePort } from '../../scripts/lib/ports';

let env: TestWorkflowEnvironment;
let services: Services;
let worker: Worker;
let running: Promise<void>;
let dir: string;
const taskQueue = uniqueTaskQueue('cli');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'saga-cli-'));
  env = await createDevServerEnv();
  services = await createServices({ databaseUrl: `sqlite:${join(dir, 'saga.db')}` });
  // The worker's prebuilt-bundle path: require.resolve of the .ts sources does not work under vitest.
  const bundlePath = join(dir, 'workflow-bundle.js');
  writeFileSync(bundlePath, (await workflowBundle()).code);
  const config = loadWorkerConfig({ NODE_ENV: 'test', TEMPORAL_ADDRESS: env.address, TEMPORAL_TASK_QUEUE: taskQueue, WORKFLOW_BUNDLE_PATH: bundlePath });
  worker = await createSagaWorker({ connection: env.nativeConnection, config, services });
  running = worker.run();
});

afterAll(async () => {
  if (worker?.getState() === 'RUNNING') worker.shutdown();
  await running;
  await services?.close();
  await env?.teardown();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs the client as a user would, against the test server, and collects what it printed. */
async function cli(argv: string[], extraEnv: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    env: { NODE_ENV: 'test', TEMPORAL_ADDRESS: env.address, TEMPORAL_TASK_QUEUE: taskQueue, TEMPORAL_UI_URL: 'http://ui.test:8233', ...extraEnv },
  });
  return { code, stdout, stderr };
}

const address = ['--name', 'Ada Lovelace', '--street', '1 Main St', '--city', 'Berlin', '--postal-code', '10115'];
let orderSeq = 0;
const orderArgs = (country = 'DE', token = 'tok_visa') => {
  const orderId = `cli-${Date.now().toString(36)}-${++orderSeq}`;
  return { orderId, args: ['order', '--order-id', orderId, '--email', 'ada@example.com', '--item', 'sku-widget:2:1999', '--token', token, ...address, '--country', country] };
};


describe('help and usage', () => {
  it('lists every command in the general help', async () => {
    const { code, stdout } = await cli(['--help']);
    expect(code).toBe(0);
    for (const c of commands) expect(stdout).toContain(c.name);
  });

  it.each(commands.map((c) => c.name))('prints the usage of %s with --help, without a server', async (name) => {
    const { code, stdout } = await cli([name, '--help'], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(code).toBe(0);
    expect(stdout).toContain(`Usage: saga-client ${name}`);
    expect(stdout).toContain('--json');
  });

  it('refuses an unknown command with exit code 2 and one line', async () => {
    const { code, stderr } = await cli(['ship-it']);
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain('unknown command "ship-it"');
  });

  it('refuses an unknown flag, naming the command help', async () => {
    const { code, stderr } = await cli(['status', 'x', '--frobnicate']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/--frobnicate.*client status --help/);
  });

  it('refuses a missing id', async () => {
    const { code, stderr } = await cli(['status']);
    expect(code).toBe(2);
    expect(stderr).toContain('missing <id>');
  });
});

describe('errors are one line and a non-zero exit code', () => {
  it('reports invalid order input before contacting any server', async () => {
    const { code, stderr } = await cli(['order', '--email', 'not-an-address', '--item', 'sku-widget:0:100', '--token', 'tok_visa', ...address, '--country', 'DE'], {
      TEMPORAL_ADDRESS: '127.0.0.1:1',
    });
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain('Invalid order');
    expect(stderr).toContain('email');
    expect(stderr).toContain('items.0.quantity');
  });

  it('names the flags an order without --file lacks, not the fields of its schema', async () => {
    const none = await cli(['order'], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(none.code).toBe(2);
    expect(none.stderr.trim()).toBe('saga-client: missing --email, --item, --token, --name, --street, --city, --postal-code, --country (or give the order as --file order.json) (see `client order --help`)');
    const some = await cli(['order', '--email', 'ada@example.com', '--item', 'sku-widget:1:100', '--token', 'tok_visa', '--name', 'Ada'], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(some.stderr).toContain('missing --street, --city, --postal-code, --country (or give the order as --file order.json)');
    expect(some.stderr).not.toContain('shippingAddress');
  });

  it('reports an unreachable server with exit code 3', async () => {
    const port = await freePort();
    const { code, stderr } = await cli(['list'], { TEMPORAL_ADDRESS: `127.0.0.1:${port}` });
    expect(code).toBe(3);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain(`Cannot reach the Temporal server at 127.0.0.1:${port}`);
  });

  it('reports an invalid configuration with exit code 2', async () => {
    const { code, stderr } = await cli(['list'], { TEMPORAL_ADDRESS: 'no port here' });
    expect(code).toBe(2);
    expect(stderr).toContain('Invalid configuration: TEMPORAL_ADDRESS=no port here is not host:port');
  });

  it('reports an unknown saga with exit code 4, naming the ids it tried', async () => {
    const { code, stderr } = await cli(['status', 'no-such-order']);
    expect(code).toBe(4);
    expect(stderr).toContain('order-no-such-order');
  });

  it('answers a JSON error object on stdout with --json', async () => {
    const { code, stdout } = await cli(['status', 'no-such-order', '--json']);
    expect(code).toBe(4);
    expect(JSON.parse(stdout)).toEqual({ error: { message: expect.stringContaining('no-such-order'), exitCode: 4 } });
  });

  it('refuses to start the same order twice', async () => {
    const { args } = orderArgs();
    expect((await cli(args)).code).toBe(0);
    const again = await cli(args);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already exists');
  });
});

describe('orders', () => {
  it('starts an order from flags and waits for it to complete', async () => {
    const { orderId, args } = orderArgs();
    const { code, stdout } = await cli([...args, '--wait']);
    expect(code).toBe(0);
    expect(stdout).toContain(`Started order ${orderId} as ${orderWorkflowId(orderId)}`);
    expect(stdout).toMatch(/COMPLETED: shipped with .+, tracking/);
    expect(stdout).toContain(`http://ui.test:8233/namespaces/default/workflows/${orderWorkflowId(orderId)}`);
  });

  it('suggests the next command as the user runs the client: npm run client -- under npm, saga-client otherwise', async () => {
    const viaNpm = await cli(orderArgs().args, { npm_lifecycle_event: 'client' });
    expect(viaNpm.stdout).toMatch(/Follow: npm run client -- status order-\S+ --watch/);
    const installed = await cli(orderArgs().args);
    expect(installed.stdout).toMatch(/Follow: saga-client status order-\S+ --watch/);
    const registered = await cli(['register', '--email', `hint.${Date.now().toString(36)}@example.com`, '--name', 'Hint'], { npm_lifecycle_event: 'client' });
    expect(registered.stdout).toMatch(/Then: {3}npm run client -- verify \S+ --code/);
    expect(registered.stdout).toMatch(/Code: {3}npm run client -- outbox --to \S+/);
  });

  it('takes country and currency codes in lower case as their upper-case codes', async () => {
    const { orderId, args } = orderArgs('de');
    const { code, stdout } = await cli([...args, '--currency', 'eur', '--wait']);
    expect(code, stdout).toBe(0);
    const description = await env.client.workflow.getHandle(orderWorkflowId(orderId)).describe();
    expect(await description.staticSummary()).toBe(`Order ${orderId}: 2 items, 39.98 EUR`);
  });

  it('starts an order for a well-formed SKU the catalogue lacks: the client cannot know it, reserveStock refuses it and the saga undoes the payment', async () => {
    const { args } = orderArgs();
    const { code, stdout } = await cli([...args.map((a) => (a === 'sku-widget:2:1999' ? 'sku-nope:1:500' : a)), '--wait']);
    expect(code).toBe(1);
    expect(stdout).toMatch(/COMPENSATED: reserveStock failed: .*sku-nope.*; undone: .*voidPayment/);
  });

  it('starts an order from a JSON file, reports its compensation and exits 1 when it fails', async () => {
    const orderId = `cli-file-${Date.now().toString(36)}`;
    const file = join(dir, 'order.json');
    writeFileSync(
      file,
      JSON.stringify({
        orderId,
        customerId: 'c-1',
        email: 'ada@example.com',
        items: [{ sku: 'sku-gadget', quantity: 1, unitPriceCents: 4999 }],
        payment: { token: 'tok_visa' },
        shippingAddress: { name: 'Crew', line1: 'McMurdo', city: 'Ross Island', postalCode: '96599', country: 'AQ' },
      }),
    );
    const { code, stdout } = await cli(['order', '--file', file, '--wait', '--json']);
    expect(code).toBe(1);
    const out = JSON.parse(stdout);
    expect(out.workflowId).toBe(orderWorkflowId(orderId));
    expect(out.outcome.status).toBe('COMPENSATED');
    expect(out.outcome.compensated).toEqual(expect.arrayContaining(['cancelShipment', 'refundPayment', 'voidPayment', 'releaseStock']));
  });

  it('does not list the compensations of a completed order as pending: they will never run', async () => {
    const { orderId, args } = orderArgs();
    expect((await cli([...args, '--wait'])).code).toBe(0);
    const { stdout } = await cli(['status', orderId]);
    expect(stdout).toContain('saga COMPLETED');
    expect(stdout).not.toMatch(/: pending/);
    expect(stdout).toMatch(/reserveStock\s.*releaseStock: not needed/);
  });

  it('shows the step table of an order given by its bare order id', async () => {
    const { orderId, args } = orderArgs('AQ');
    await cli([...args, '--wait']);
    const { code, stdout } = await cli(['status', orderId]);
    expect(code).toBe(0);
    expect(stdout).toContain(`${orderWorkflowId(orderId)}  orderSaga  saga COMPENSATED  (workflow FAILED)`);
    expect(stdout).toMatch(/STEP\s+STAGE\s+STATUS\s+TRY\s+TIME\s+COMPENSATION/);
    expect(stdout).toMatch(/capturePayment\s+\d+\s+compensated\s+1\s+[\d.]+m?s\s+refundPayment: done [\d.]+m?s/);
    expect(stdout).toMatch(/createShipment\s+\d+\s+compensated \(pivot\)\s+1\s+[\d.]+m?s\s+cancelShipment: done [\d.]+m?s\s+Undeliverable: /);
    expect(stdout).toContain('Failure: createShipment');
  });

  it('gives the saga state as JSON with status --json', async () => {
    const { orderId, args } = orderArgs();
    await cli([...args, '--wait']);
    const { code, stdout } = await cli(['status', orderWorkflowId(orderId), '--json']);
    expect(code).toBe(0);
    const view = JSON.parse(stdout);
    expect(view).toMatchObject({ workflowId: orderWorkflowId(orderId), type: 'orderSaga', workflowStatus: 'COMPLETED', sagaStatus: 'COMPLETED' });
    expect(view.state.steps.map((s: { name: string }) => s.name)).toEqual(['reserveStock', 'authorizePayment', 'capturePayment', 'createShipment', 'sendConfirmation']);
  });

  it('lists sagas by saga status through the search attribute', async () => {
    const { orderId, args } = orderArgs('AQ', 'tok_visa');
    await cli([...args, '--wait']);
    let listed = { code: -1, stdout: '' };
    for (let i = 0; i < 50 && !listed.stdout.includes(orderWorkflowId(orderId)); i++) {
      listed = await cli(['list', '--status', 'compensated', '--json', '--limit', '100']);
      if (!listed.stdout.includes(orderWorkflowId(orderId))) await new Promise((r) => setTimeout(r, 200));
    }
    expect(listed.code).toBe(0);
    const rows = JSON.parse(listed.stdout) as { workflowId: string; sagaStatus: string }[];
    expect(rows.find((r) => r.workflowId === orderWorkflowId(orderId))).toMatchObject({ sagaStatus: 'COMPENSATED' });
    expect(rows.every((r) => r.sagaStatus === 'COMPENSATED')).toBe(true);
    const text = await cli(['list', '--status', 'COMPENSATED']);
    expect(text.stdout).toMatch(new RegExp(`${orderWorkflowId(orderId)}\\s+orderSaga\\s+COMPENSATED\\s+FAILED`));
  });

  it('refuses a saga status that does not exist', async () => {
    const { code, stderr } = await cli(['list', '--status', 'DONE']);
    expect(code).toBe(2);
    expect(stderr).toContain('--status must be one of RUNNING, COMPLETED');
  });

  it('refuses operator updates for a saga that is not waiting for an operator', async () => {
    const { orderId, args } = orderArgs();
    await cli([...args, '--wait']);
    const retry = await cli(['retry-compensation', orderId]);
    expect(retry.code).not.toBe(0);
    expect(retry.stderr.trim().split('\n')).toHaveLength(1);
    const mark = await cli(['mark-compensated', orderId]);
    expect(mark.code).toBe(2);
    expect(mark.stderr).toContain('--reason is required');
  });
});

describe('registrations', () => {
  it('verifies a registration by e-mail: a wrong code is refused, the code from the e-mail accepted', async () => {
    const email = `lin.${Date.now().toString(36)}@example.com`;
    const started = await cli(['register', '--email', email, '--name', 'Lin']);
    expect(started.code).toBe(0);
    expect(started.stdout).toContain(registrationWorkflowId(email));
    const handle = env.client.workflow.getHandle(registrationWorkflowId(email));
    for (let i = 0; i < 100 && (await handle.query<{ phase: string }>('verificationState')).phase !== 'waiting'; i++) await new Promise((r) => setTimeout(r, 100));

    const code = await services.mail.latestVerificationCode(email);
    expect(code).toBeDefined();
    const wrong = await cli(['verify', email, '--code', code === '000000' ? '111111' : '000000']);
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toContain('Wrong code: 4 attempts left');

    // Inside the 60 s between codes: refused, and the code already sent still holds.
    const resent = await cli(['resend', email]);
    expect(resent.code).toBe(1);

    const right = await cli(['verify', registrationWorkflowId(email), '--code', code ?? '', '--json']);
    expect(right.code).toBe(0);
    expect(JSON.parse(right.stdout)).toMatchObject({ accepted: true, outcome: 'verified' });
    await handle.result();
  });

  it('refuses verify for an order', async () => {
    const { orderId, args } = orderArgs();
    await cli(args);
    const { code, stderr } = await cli(['verify', orderId, '--code', '123456']);
    expect(code).toBe(2);
    expect(stderr).toContain(`${orderWorkflowId(orderId)} is an order, not a registration`);
  });

  it('refuses to register an address twice at once, saying so of addresses, not of order ids', async () => {
    const email = `twice.${Date.now().toString(36)}@example.com`;
    expect((await cli(['register', '--email', email, '--name', 'Twice'])).code).toBe(0);
    const again = await cli(['register', '--email', email, '--name', 'Twice']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('an address can be registered once at a time');
    expect(again.stderr).not.toContain('order id');
    await cli(['cancel', email, '--wait']);
  });

  it('refuses a resend inside the interval and says no code was sent', async () => {
    const email = `resend.${Date.now().toString(36)}@example.com`;
    expect((await cli(['register', '--email', email, '--name', 'Resend'])).code).toBe(0);
    const handle = env.client.workflow.getHandle(registrationWorkflowId(email));
    for (let i = 0; i < 100 && (await handle.query<{ phase: string }>('verificationState')).phase !== 'waiting'; i++) await new Promise((r) => setTimeout(r, 100));
    const resent = await cli(['resend', email]);
    expect(resent.code).toBe(1);
    expect(resent.stdout).toContain('No new code: codes go out at least 60 s apart (1 of 5 e-mails sent so far)');
    expect(resent.stdout).not.toMatch(/on its way/);
    await cli(['cancel', email, '--wait']);
  });

  it('shows the code of a verification e-mail with outbox --to, opening the sealed body on the development stack', async () => {
    const email = `outbox.${Date.now().toString(36)}@example.com`;
    expect((await cli(['register', '--email', email, '--name', 'Outbox'])).code).toBe(0);
    const handle = env.client.workflow.getHandle(registrationWorkflowId(email));
    for (let i = 0; i < 100 && (await handle.query<{ phase: string }>('verificationState')).phase !== 'waiting'; i++) await new Promise((r) => setTimeout(r, 100));
    const sent = await services.mail.latestVerificationCode(email);
    expect(sent).toMatch(/^\d{6}$/);
    const shown = await cli(['outbox', '--to', email], { DATABASE_URL: `sqlite:${join(dir, 'saga.db')}` });
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/verification\s+sent\s+/);
    expect(shown.stdout).toContain(`Latest verification code: ${sent}`);
    const json = await cli(['outbox', '--to', email, '--json'], { DATABASE_URL: `sqlite:${join(dir, 'saga.db')}` });
    expect(JSON.parse(json.stdout)).toEqual([expect.objectContaining({ kind: 'verification', to: email, code: sent })]);
    await cli(['cancel', email, '--wait']);
  });

  it('refuses outbox in production, exit code 2, without opening the database', async () => {
    const { code, stderr } = await cli(['outbox', '--to', 'ada@example.com'], {
      NODE_ENV: 'production',
      SAGA_ID_SECRET: 'vK3#pQ9!zR7@mW2$xL5^nB8&cT4*hJ6%',
      SAGA_ENCRYPTION: 'off',
      DATABASE_URL: 'sqlite:/nonexistent/dir/saga.db',
    });
    expect(stderr).toContain('outbox reads the development stack\'s mail: refused in production');
    expect(code).toBe(2);
  });

  it('shows with status that a registration waits for its code, and until when', async () => {
    const email = `waits.${Date.now().toString(36)}@example.com`;
    expect((await cli(['register', '--email', email, '--name', 'Waits', '--timeout', '30m'])).code).toBe(0);
    const handle = env.client.workflow.getHandle(registrationWorkflowId(email));
    for (let i = 0; i < 100 && (await handle.query<{ phase: string }>('verificationState')).phase !== 'waiting'; i++) await new Promise((r) => setTimeout(r, 100));
    const { code, stdout } = await cli(['status', email]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/Waiting for the code from the verification e-mail until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(in (29m\d\ds|30m00s)\); 5 attempts left, 1 e-mail sent/);
    await cli(['cancel', email, '--wait']);
  });

  it('cancels a registration and reports it undone', async () => {
    const email = `kim.${Date.now().toString(36)}@example.com`;
    await cli(['register', '--email', email, '--name', 'Kim']);
    const { code, stdout } = await cli(['cancel', email, '--wait']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/CANCELLED: cancelled; undone: .*deleteUser/);
    const again = await cli(['cancel', email]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('has already ended (CANCELLED)');
  });

  it('watches a registration redraw until its verification deadline undoes it', async () => {
    const email = `max.${Date.now().toString(36)}@example.com`;
    await cli(['register', '--email', email, '--name', 'Max', '--timeout', '2s']);
    const { code, stdout } = await cli(['status', email, '--watch', '--interval', '200']);
    expect(code).toBe(0);
    const frames = stdout.split(/\n(?=registration-)/);
    expect(frames.length).toBeGreaterThan(1);
    expect(frames[0]).toContain('saga RUNNING');
    expect(frames.at(-1)).toContain('saga COMPENSATED  (workflow FAILED)');
    expect(frames.at(-1)).toMatch(/createUser\s+\d+\s+compensated\s+1\s+[\d.]+m?s\s+deleteUser: done/);
  });
});
