// Pure formatting shared by workflows (summaries) and Node code (client output). Sandbox-safe.

/**
 * Total of an order in cents. Exact: the order schema's bounds (100 lines, 10,000 units, 1,000,000.00
 * per unit) keep it below 10^14, far under `Number.MAX_SAFE_INTEGER`.
 */
export function orderTotalCents(items: readonly { quantity: number; unitPriceCents: number }[]): number {
  return items.reduce((sum, item) => sum + item.quantity * item.unitPriceCents, 0);
}

/** `5997, 'EUR'` → `"59.97 EUR"`. */
export function formatMoney(cents: number, currency: string): string {
  return `${(cents / 100).toFixed(2)} ${currency}`;
}

/** The one-line summary shown for an order in the Web UI: `Order o-17: 3 items, 59.97 EUR`. */
export function orderSummary(input: { orderId: string; items: readonly { quantity: number; unitPriceCents: number }[]; currency?: string }): string {
  const units = input.items.reduce((n, item) => n + item.quantity, 0);
  return `Order ${input.orderId}: ${units} item${units === 1 ? '' : 's'}, ${formatMoney(orderTotalCents(input.items), input.currency ?? 'EUR')}`;
}

/** `86_400_000` → `"24h"`, for summaries. */
export function formatDuration(ms: number): string {
  if (ms % 86_400_000 === 0 && ms >= 2 * 86_400_000) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${Math.round(ms / 1000)}s`;
}
