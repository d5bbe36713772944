import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { CliError, ExitCode, UsageError } from './errors';

// Saga inputs assembled from the command line. Nothing is validated here beyond the shape of a flag:
// the saga's own schema judges the result, so the client and the workflow refuse the same things.

/** Flags of the `order` command that make up an order. */
export interface OrderFlags {
  file?: string;
  orderId?: string;
  customer?: string;
  email?: string;
  currency?: string;
  items?: string[];
  token?: string;
  name?: string;
  street?: string;
  city?: string;
  postalCode?: string;
  country?: string;
}

/** `sku-widget:2:1999` → `{ sku, quantity: 2, unitPriceCents: 1999 }`; the quantity defaults to 1, the price to 0. */
export function parseItem(spec: string): { sku: string; quantity: number; unitPriceCents: number } {
  const [sku = '', quantity = '1', price = '0', ...rest] = spec.split(':');
  const q = Number(quantity);
  const p = Number(price);
  if (sku === '' || rest.length > 0 || quantity === '' || price === '' || !Number.isFinite(q) || !Number.isFinite(p)) {
    throw new UsageError(`--item expects sku:quantity:unitPriceCents, e.g. sku-widget:2:1999 (got "${spec}")`, 'order');
  }
  return { sku, quantity: q, unitPriceCents: p };
}

async function readJsonObject(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new CliError(`Cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, ExitCode.USAGE);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new CliError(`${path} is not valid JSON: ${(err as Error).message}`, ExitCode.USAGE);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new CliError(`${path} must hold one JSON object (the order)`, ExitCode.USAGE);
  return value as Record<string, unknown>;
}

function defined<T extends Record<string, unknown>>(obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * The order the flags describe: the `--file` JSON if given, with any flag overriding its field. The
 * order id defaults to a fresh `o-<8 hex>` and the customer to `guest`.
 */
export async function orderFromFlags(flags: OrderFlags): Promise<Record<string, unknown>> {
  const base = flags.file ? await readJsonObject(flags.file) : {};
  const baseAddress = typeof base.shippingAddress === 'object' && base.shippingAddress !== null ? (base.shippingAddress as Record<string, unknown>) : {};
  const address = {
    ...baseAddress,
    ...defined({ name: flags.name, line1: flags.street, city: flags.city, postalCode: flags.postalCode, country: flags.country }),
  };
  return {
    ...base,
    orderId: flags.orderId ?? base.orderId ?? `o-${randomUUID().slice(0, 8)}`,
    customerId: flags.customer ?? base.customerId ?? 'guest',
    ...defined({ email: flags.email, currency: flags.currency }),
    ...(flags.items?.length ? { items: flags.items.map(parseItem) } : {}),
    ...(flags.token ? { payment: { token: flags.token } } : {}),
    ...(Object.keys(address).length ? { shippingAddress: address } : {}),
  };
}
