import type { Client } from '@temporalio/client';
import { SagaStatus } from '@saga-temporal/saga';
import { describeOrderResult, sagaOutcome } from '../../report';
import { startOrder } from '../../order/start';
import { startRegistration } from '../../registration/start';
import { orderInputSchema } from '../../order/contract';
import { parseOrThrow } from '../../shared/validation';
import { registrationInputSchema } from '../../registration/contract';
import { outcomeJson, outcomeLine, printLine, printResult, requiredFlag, stringFlag, stringFlags, webUiUrl, type CommandContext, type CommandSpec } from '../command';
import { ExitCode, UsageError } from '../errors';
import { checkWorkersAcceptPlaintext } from '../../task-queue-guard';
import { orderFromFlags } from '../order-flags';

// The commands that start a saga. Each input is checked against the saga's own schema before
// anything is sent, so the client refuses what the workflow would refuse.

/** The flags an order needs when no `--file` gives its fields. */
const ORDER_FLAGS_REQUIRED = ['email', 'item', 'token', 'name', 'street', 'city', 'postal-code', 'country'] as const;

/** `saga-client order`: starts an order saga from flags or a JSON file. */
export const order: CommandSpec = {
  name: 'order',
  args: [],
  summary: 'Start an order saga, from flags or from a JSON file',
  details: [
    'Flags override the fields of --file. The order id defaults to a fresh o-<8 hex>, the customer to "guest".',
    'Example: order --email ada@example.com --item sku-widget:2:1999 --token tok_visa \\',
    '           --name "Ada Lovelace" --street "1 Main St" --city Berlin --postal-code 10115 --country DE',
  ],
  options: [
    { name: 'file', type: 'string', short: 'f', arg: '<order.json>', doc: 'Read the order from a JSON file (the saga input)' },
    { name: 'order-id', type: 'string', arg: '<id>', doc: 'Order id; the workflow id is order-<id>' },
    { name: 'customer', type: 'string', arg: '<id>', doc: 'Customer id (default "guest")' },
    { name: 'email', type: 'string', arg: '<address>', doc: 'Where the confirmation goes' },
    { name: 'item', type: 'string', multiple: true, arg: '<sku:qty:cents>', doc: 'An order line, repeatable, e.g. sku-widget:2:1999' },
    { name: 'currency', type: 'string', arg: '<ISO>', doc: 'Currency (default EUR)' },
    { name: 'token', type: 'string', arg: '<tok_…>', doc: 'Payment token, e.g. tok_visa' },
    { name: 'name', type: 'string', arg: '<text>', doc: 'Recipient name' },
    { name: 'street', type: 'string', arg: '<text>', doc: 'Street and number' },
    { name: 'city', type: 'string', arg: '<text>', doc: 'City' },
    { name: 'postal-code', type: 'string', arg: '<code>', doc: 'Postal code' },
    { name: 'country', type: 'string', arg: '<CC>', doc: 'ISO 3166-1 alpha-2 country code, e.g. DE' },
    { name: 'wait', type: 'boolean', doc: 'Wait for the saga to end and report how; exit code 1 if it did not complete' },
  ],
  async run(ctx, flags) {
    // Without a file every field comes from a flag: name the flags missing, not the schema's fields.
    if (stringFlag(flags, 'file') === undefined) {
      const missing = ORDER_FLAGS_REQUIRED.filter((name) => (name === 'item' ? stringFlags(flags, name).length === 0 : stringFlag(flags, name) === undefined));
      if (missing.length > 0) throw new UsageError(`missing ${missing.map((name) => `--${name}`).join(', ')} (or give the order as --file order.json)`, 'order');
    }
    const input = await orderFromFlags({
      file: stringFlag(flags, 'file'),
      orderId: stringFlag(flags, 'order-id'),
      customer: stringFlag(flags, 'customer'),
      email: stringFlag(flags, 'email'),
      currency: stringFlag(flags, 'currency'),
      items: stringFlags(flags, 'item'),
      token: stringFlag(flags, 'token'),
      name: stringFlag(flags, 'name'),
      street: stringFlag(flags, 'street'),
      city: stringFlag(flags, 'city'),
      postalCode: stringFlag(flags, 'postal-code'),
      country: stringFlag(flags, 'country'),
    });
    const valid = parseOrThrow(orderInputSchema, 'order', input);
    const client = await clientToStart(ctx);
    const handle = await startOrder(client, valid, { taskQueue: ctx.config.taskQueue });
    const started = { workflowId: handle.workflowId, orderId: valid.orderId, uiUrl: webUiUrl(ctx, handle.workflowId) };
    if (!flags.wait) {
      printResult(ctx, started, `Started order ${valid.orderId} as ${handle.workflowId}`, `  Web UI: ${started.uiUrl}`, `  Follow: ${ctx.invokedAs} status ${handle.workflowId} --watch`);
      return ExitCode.OK;
    }
    if (!ctx.json) printLine(ctx, `Started order ${valid.orderId} as ${handle.workflowId}; waiting for it to end…`);
    const outcome = await sagaOutcome(client, handle, describeOrderResult);
    printResult(ctx, { ...started, outcome: outcomeJson(outcome) }, outcomeLine(outcome), `  Web UI: ${started.uiUrl}`);
    return outcome.status === SagaStatus.COMPLETED ? ExitCode.OK : ExitCode.FAILED;
  },
};

/** `saga-client register`: starts a registration saga. */
export const register: CommandSpec = {
  name: 'register',
  args: [],
  summary: 'Start a registration saga: create the account and mail a verification code',
  options: [
    { name: 'email', type: 'string', arg: '<address>', doc: 'E-mail address to register (required)' },
    { name: 'name', type: 'string', arg: '<text>', doc: 'Name of the user (required)' },
    { name: 'user-id', type: 'string', arg: '<id>', doc: 'User id (default: generated by the saga)' },
    { name: 'timeout', type: 'string', arg: '<duration>', doc: 'Time to verify the address, e.g. 30m or 24h (default 24h)' },
  ],
  async run(ctx, flags) {
    const input = {
      email: requiredFlag(flags, 'email', 'register'),
      name: requiredFlag(flags, 'name', 'register'),
      ...(stringFlag(flags, 'user-id') ? { userId: stringFlag(flags, 'user-id') } : {}),
      ...(stringFlag(flags, 'timeout') ? { verificationTimeout: stringFlag(flags, 'timeout') } : {}),
    };
    const valid = parseOrThrow(registrationInputSchema, 'registration', input);
    const handle = await startRegistration(await clientToStart(ctx), valid, { taskQueue: ctx.config.taskQueue, idSecret: ctx.config.idSecret });
    const started = { workflowId: handle.workflowId, email: valid.email, uiUrl: webUiUrl(ctx, handle.workflowId) };
    printResult(ctx, started, `Started the registration of ${valid.email} as ${handle.workflowId}`, `  Web UI: ${started.uiUrl}`, `  Then:   ${ctx.invokedAs} verify ${valid.email} --code <code from the e-mail>`, ...(ctx.config.production ? [] : [`  Code:   ${ctx.invokedAs} outbox --to ${valid.email}`]));
    return ExitCode.OK;
  },
};

/**
 * The client, once the task queue's workers are known to read what it sends: a client without a codec
 * is refused, before it starts anything, where the workers encrypt.
 */
async function clientToStart(ctx: CommandContext): Promise<Client> {
  const client = await ctx.client();
  if (!ctx.encodesPayloads) await checkWorkersAcceptPlaintext(client.workflowService, ctx.config);
  return client;
}
