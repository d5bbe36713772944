import { describe, expect, it } from 'vitest';
import { durationMs, formatServerProfiles, goAreaOf, parsePprofTop, selfTimeByArea } from '../../bench/server-profile';
import { clusterPorts } from '../../tools/cluster';

// What `go tool pprof -top` prints for a CPU profile of one Temporal service (shortened).
const TOP = `File: temporal-server
Type: cpu
Time: 2026-12-07 21:55:14 UTC
Duration: 60.02s, Total samples = 7000ms (11.66%)
Showing nodes accounting for 2280ms, 32.57% of 7000ms total
Dropped 653 nodes (cum <= 35ms)
      flat  flat%   sum%        cum   cum%
    1310ms 18.71% 18.71%     1310ms 18.71%  internal/runtime/syscall/linux.Syscall6
     530ms  7.57% 26.29%      530ms  7.57%  runtime.futex
      40ms  0.57% 26.86%     2.47s 35.29%  go.temporal.io/server/service/history/workflow.(*ContextImpl).UpdateWorkflowExecutionAsActive
      30ms  0.43% 27.29%       90ms  1.29%  github.com/lib/pq.(*conn).query
      20ms  0.29% 27.57%       20ms  0.29%  encoding/json.(*decodeState).object
`;

describe('the server profile summary', () => {
  it('reads pprof durations in every unit it prints', () => {
    expect(durationMs('0')).toBe(0);
    expect(durationMs('120ms')).toBe(120);
    expect(durationMs('2.47s')).toBe(2470);
    expect(durationMs('1.5min')).toBe(90_000);
    expect(durationMs('250us')).toBeCloseTo(0.25);
    expect(() => durationMs('7 ms')).toThrow(/Not a pprof duration/);
  });

  it('reads the total and one entry per function line of `go tool pprof -top`', () => {
    const { totalMs, top } = parsePprofTop(TOP);
    expect(totalMs).toBe(7000);
    expect(top).toHaveLength(5);
    expect(top[2]).toEqual({ function: 'go.temporal.io/server/service/history/workflow.(*ContextImpl).UpdateWorkflowExecutionAsActive', flatMs: 40, flatShare: 0.57, cumMs: 2470, cumShare: 35.29 });
  });

  it('counts self time by area, system calls apart from the rest of the Go runtime', () => {
    expect(goAreaOf('internal/runtime/syscall/linux.Syscall6')).toBe('system calls (network, disk)');
    expect(goAreaOf('runtime.futex')).toBe('Go runtime (GC, scheduler, memory)');
    expect(goAreaOf('github.com/lib/pq.(*conn).query')).toBe('SQL driver and statements');
    expect(goAreaOf('go.temporal.io/server/common/persistence/sql/sqlplugin/postgresql.(*db).UpdateExecutions')).toBe('SQL driver and statements');
    expect(goAreaOf('go.temporal.io/server/common/persistence/serialization.(*serializerImpl).Serialize')).toBe('persistence layer and serialization');
    expect(goAreaOf('google.golang.org/grpc/internal/transport.(*http2Server).operateHeaders')).toBe('gRPC, HTTP/2 and protobuf');
    expect(goAreaOf('go.temporal.io/server/service/history/workflow.(*ContextImpl).UpdateWorkflowExecutionAsActive')).toBe('history service (mutable state, tasks, queues)');
    expect(goAreaOf('encoding/json.(*decodeState).object')).toBe('other (reflection, JSON, standard library)');
    expect(selfTimeByArea(parsePprofTop(TOP).top)).toEqual({
      'system calls (network, disk)': 1310,
      'Go runtime (GC, scheduler, memory)': 530,
      'history service (mutable state, tasks, queues)': 40,
      'SQL driver and statements': 30,
      'other (reflection, JSON, standard library)': 20,
    });
  });

  it('prints each service with its share per area, and says so when a profile could not be read', () => {
    const { totalMs, top } = parsePprofTop(TOP);
    const text = formatServerProfiles(
      [
        { service: 'history-1', file: 'history-1.pb.gz', totalMs: totalMs!, areas: selfTimeByArea(top), top: [top[2]!] },
        { service: 'worker', file: 'worker.pb.gz', areas: {}, top: [] },
      ],
      60,
    );
    expect(text).toContain('over a 60 s capture');
    expect(text).toMatch(/^\| history-1 \| 7000 \| 18\.7 % \| 7\.6 % \| 0\.4 % \|/m);
    expect(text).toContain('| worker | not read (is Go on the PATH?) |');
    expect(text).toContain('| `go.temporal.io/server/service/history/workflow.(*ContextImpl).UpdateWorkflowExecutionAsActive` | 2470 | 35.29 |');
  });
});

describe("the cluster's profiler ports", () => {
  it('are frontend + 33, + 34, + 35 and + 81 + i, inside the block the cluster reserves and apart from every other port', () => {
    const ports = clusterPorts(21_000, 2);
    expect(ports.pprof).toEqual({ frontend: 21_033, matching: 21_034, worker: 21_035, history: [21_081, 21_082] });
    const nine = clusterPorts(21_000, 9);
    const profilers = [nine.pprof.frontend, nine.pprof.matching, nine.pprof.worker, ...nine.pprof.history];
    const others = [
      ...Object.values(nine.frontend),
      ...Object.values(nine.matching),
      ...Object.values(nine.worker),
      ...nine.history.flatMap((h) => Object.values(h)),
      nine.codec,
      nine.postgres,
      ...nine.nats,
    ];
    expect(new Set([...profilers, ...others]).size).toBe(profilers.length + others.length);
    for (const port of profilers) expect(port - 21_000).toBeLessThanOrEqual(91);
  });
});
