// What one workflow leaves in the server: its history's events, encoded size and payload bytes.

import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

/** Size of one workflow's history. */
export interface HistoryStats {
  /** Number of history events. */
  events: number;
  /** Size of the encoded history (protobuf), in bytes. */
  historyBytes: number;
  /** Bytes of every payload in the history (data plus metadata): inputs, results, failures' details, summaries. */
  payloadBytes: number;
  /** Events by type, e.g. `ACTIVITY_TASK_SCHEDULED: 5`. */
  eventTypes: Record<string, number>;
  /**
   * Events a `patched()` call writes: its marker and the `TemporalChangeVersion` search attribute the
   * SDK upserts with it. A cost of evolving a workflow, not of the saga layer; it goes when the patch
   * is removed (the order's `order-shipment-pivot` left new orders in 0.2.0: none today).
   */
  patchEvents: number;
  /** Upserts that write the `SagaStatus` search attribute. */
  sagaStatusUpserts: number;
  /** Local activity markers, and how many of them carry a summary (the SDK puts a local activity's `summary` on its marker). */
  localActivityMarkers: { total: number; withSummary: number };
}

function isPayload(value: object): value is { data?: Uint8Array | null; metadata?: Record<string, Uint8Array> | null } {
  return 'data' in value && 'metadata' in value && (value.data === null || value.data === undefined || value.data instanceof Uint8Array);
}

function payloadBytes(value: unknown): number {
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array) return 0;
  if (isPayload(value)) {
    const meta = Object.values(value.metadata ?? {}).reduce((n, v) => n + v.length, 0);
    return (value.data?.length ?? 0) + meta;
  }
  let total = 0;
  for (const child of Object.values(value)) total += payloadBytes(child);
  return total;
}

/** Fetches a finished workflow's history and measures it. */
export async function historyStats(handle: WorkflowHandle): Promise<HistoryStats> {
  const history = await handle.fetchHistory();
  const events = history.events ?? [];
  const eventTypes: Record<string, number> = {};
  let patchEvents = 0;
  let sagaStatusUpserts = 0;
  const localActivityMarkers = { total: 0, withSummary: 0 };
  for (const event of events) {
    if (event.markerRecordedEventAttributes?.markerName === 'core_local_activity') {
      localActivityMarkers.total += 1;
      if (event.userMetadata?.summary) localActivityMarkers.withSummary += 1;
    }
    if (event.markerRecordedEventAttributes?.markerName === 'core_patch') patchEvents += 1;
    const upserted = Object.keys(event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {});
    if (upserted.length > 0 && upserted.every((key) => key === 'TemporalChangeVersion')) patchEvents += 1;
    if (upserted.includes('SagaStatus')) sagaStatusUpserts += 1;
    const name = (temporal.api.enums.v1.EventType[event.eventType ?? 0] ?? 'UNKNOWN').replace(/^EVENT_TYPE_/, '');
    eventTypes[name] = (eventTypes[name] ?? 0) + 1;
  }
  return {
    events: events.length,
    historyBytes: temporal.api.history.v1.History.encode(history).finish().length,
    payloadBytes: payloadBytes(history),
    eventTypes,
    patchEvents,
    sagaStatusUpserts,
    localActivityMarkers,
  };
}
