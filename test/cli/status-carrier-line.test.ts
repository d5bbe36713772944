import { describe, expect, it } from 'vitest';
import type { StepRecord } from '@saga-temporal/saga';
import { carrierLine, renderStatus, type StatusView } from '../../src/cli/status-screen';
import { carrierHeartbeatOf } from '../../src/carrier/progress';

// The status screen's line for a step whose command waits at the broker, from the delivery count the
// worker heartbeats for it (the real round trip: test/broker/broker-visibility.test.ts).

const steps: StepRecord[] = [
  { name: 'reserveStock', status: 'done', group: 0, attempt: 1, startedAt: '2026-12-07T10:00:00.000Z', endedAt: '2026-12-07T10:00:00.100Z' },
  { name: 'createShipment', status: 'running', group: 2, attempt: 1, startedAt: '2026-12-07T10:00:01.000Z' },
];

function view(activities: StatusView['activities']): StatusView {
  return {
    workflowId: 'order-o-1',
    type: 'orderSaga',
    workflowStatus: 'RUNNING',
    sagaStatus: 'RUNNING',
    summary: undefined,
    state: { status: 'RUNNING', steps, compensationFailures: [] },
    activities,
    uiUrl: 'http://ui.test/o-1',
  };
}

describe('a step waiting for the carrier', () => {
  it('says the command is queued before the carrier was handed it, then how many times it was', () => {
    expect(carrierLine('createShipment', 0)).toBe('createShipment: waiting for the carrier; its command is queued at the broker, not delivered yet');
    expect(carrierLine('createShipment', 1)).toBe('createShipment: waiting for the carrier; its command was delivered 1 time');
    expect(carrierLine('cancelShipment', 2)).toBe('cancelShipment: waiting for the carrier; its command was delivered 2 times, redelivered');
  });

  it('shows the line under the steps table for a running step with a carrier heartbeat, and none for other activities', () => {
    const screen = renderStatus(view([{ name: 'createShipment', try: 1, state: 'running', carrierDeliveries: 1 }]), { now: Date.parse('2026-12-07T10:00:05.000Z') });
    const lines = screen.split('\n');
    const at = lines.indexOf('createShipment: waiting for the carrier; its command was delivered 1 time');
    expect(at).toBeGreaterThan(0);
    expect(at).toBeGreaterThan(lines.findIndex((l) => l.startsWith('createShipment ')));
    expect(renderStatus(view([{ name: 'createShipment', try: 1, state: 'running' }]))).not.toContain('waiting for the carrier');
    // A try waiting for its retry is not in the carrier's hands: its heartbeat is from the try before.
    expect(renderStatus(view([{ name: 'createShipment', try: 2, state: 'waiting', carrierDeliveries: 3 }]))).not.toContain('waiting for the carrier');
  });

  it('reads the count only from heartbeat details of the carrier shape', () => {
    expect(carrierHeartbeatOf({ carrier: { deliveries: 2 } })).toEqual({ carrier: { deliveries: 2 } });
    expect(carrierHeartbeatOf({ carrier: { deliveries: 0 } })).toEqual({ carrier: { deliveries: 0 } });
    for (const other of [undefined, 3, 'x', { carrier: {} }, { carrier: { deliveries: -1 } }, { carrier: { deliveries: 1.5 } }, { progress: 40 }]) expect(carrierHeartbeatOf(other)).toBeUndefined();
  });
});
