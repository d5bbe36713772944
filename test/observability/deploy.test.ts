import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { sagaMetricNames } from '@saga-temporal/saga';
import { msToNumber } from '@temporalio/common/lib/time';
import { compensationRetry } from '../../src/shared/policies';
import { serviceMetricNames } from '../../src/telemetry';

// The alert rules, the dashboard and their wiring in docker-compose.yml, checked without Docker:
// `promtool` (Debian's prometheus package; CI installs it) validates and unit-tests the rules, and the
// dashboard and provisioning are read and cross-checked. test/observability/metrics.test.ts checks
// that every metric named here is one a real worker exports.

const root = resolve(__dirname, '..', '..');
const deploy = join(root, 'deploy');
const promtool = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;

function runPromtool(...args: string[]): string {
  const res = spawnSync('promtool', args, { cwd: join(deploy, 'prometheus'), encoding: 'utf8' });
  expect(res.status, `${res.stdout}\n${res.stderr}`).toBe(0);
  return `${res.stdout}${res.stderr}`;
}

interface Panel {
  id: number;
  title: string;
  datasource: { uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets: { refId: string; expr: string; datasource: { uid: string } }[];
}
const dashboard = JSON.parse(readFileSync(join(deploy, 'grafana', 'dashboards', 'sagas.json'), 'utf8')) as { uid: string; title: string; panels: Panel[] };
const datasources = parse(readFileSync(join(deploy, 'grafana', 'provisioning', 'datasources', 'prometheus.yml'), 'utf8')) as { datasources: { uid: string; url: string }[] };
const rules = parse(readFileSync(join(deploy, 'prometheus', 'saga-alerts.yml'), 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] };
const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, { profiles?: string[]; volumes?: string[]; environment?: Record<string, string>; ports?: string[]; entrypoint?: string[] }>;
};

/** The broker's gauges (src/broker/metrics.ts), as the worker and the carrier export them. */
const BROKER_GAUGES = ['saga_broker_consumer_pending', 'saga_broker_consumer_ack_pending', 'saga_broker_consumer_redelivered', 'saga_broker_dead_letters'];

/** The saga metrics an expression names, as exported (histograms through their _bucket/_sum/_count series). */
export function sagaMetricsIn(expr: string): string[] {
  return [...expr.matchAll(/\bsaga_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ''));
}

describe('deploy/prometheus', () => {
  it.skipIf(!promtool && !process.env.CI)('is a valid configuration whose alert rules pass their unit tests (promtool)', () => {
    expect(runPromtool('check', 'config', 'prometheus.yml')).toContain('SUCCESS: 1 rule files found');
    expect(runPromtool('check', 'rules', 'saga-alerts.yml')).toContain('SUCCESS: 6 rules found');
    expect(runPromtool('test', 'rules', 'saga-alerts.test.yml')).toContain('SUCCESS');
  });

  it("unit-tests SagaCompensationAttemptsClimbing on the failure times the app's compensation retry policy produces", () => {
    const tests = parse(readFileSync(join(deploy, 'prometheus', 'saga-alerts.test.yml'), 'utf8')) as {
      tests: { interval: string; input_series: { series: string; values: string }[]; alert_rule_test: { alertname: string }[] }[];
    };
    const test = tests.tests.find((t) => t.alert_rule_test.some((a) => a.alertname === 'SagaCompensationAttemptsClimbing'));
    const series = test?.input_series.find((s) => s.series.includes('activity_type="refundPayment"'));
    expect(test?.interval).toBe('15s');
    // promtool's notation as written there: `v` one sample, `vxn` the value n + 1 times.
    const samples = (series?.values ?? '').split(' ').flatMap((run) => {
      const [value = '', times = '0'] = run.split('x');
      return Array<number>(Number(times) + 1).fill(Number(value));
    });
    // Each attempt fails; the next starts after the policy's interval, doubled each time up to its maximum.
    const failures: number[] = [];
    let at = 60_000;
    let wait = msToNumber(compensationRetry.initialInterval ?? 1_000);
    for (let attempt = 1; attempt <= (compensationRetry.maximumAttempts ?? 1); attempt++) {
      failures.push(at);
      at += Math.min(wait, msToNumber(compensationRetry.maximumInterval ?? wait));
      wait *= compensationRetry.backoffCoefficient ?? 2;
    }
    expect(samples).toEqual(samples.map((_, i) => failures.filter((t) => t <= i * 15_000).length));
    expect(samples).toHaveLength(161);
  });

  it('alerts on a saga in COMPENSATION_FAILED or FORWARD_FAILED, climbing compensation attempts and the step failure rate, on metrics the engine records', () => {
    const alerts = rules.groups.flatMap((g) => g.rules);
    expect(alerts.map((r) => r.alert).sort()).toEqual(['CarrierBacklogGrowing', 'CarrierDeadLetters', 'SagaCompensationAttemptsClimbing', 'SagaCompensationFailed', 'SagaFailedAfterPivot', 'SagaStepFailureRate']);
    const known = new Set<string>([...Object.values(sagaMetricNames), ...BROKER_GAUGES]);
    for (const rule of alerts) for (const name of sagaMetricsIn(rule.expr)) expect(known, `${rule.alert}: ${name}`).toContain(name);
  });

  it('scrapes the worker and the carrier where compose has them serve metrics', () => {
    const config = parse(readFileSync(join(deploy, 'prometheus', 'prometheus.yml'), 'utf8')) as { scrape_configs: { static_configs: { targets: string[] }[] }[] };
    const targets = config.scrape_configs.flatMap((c) => c.static_configs.flatMap((s) => s.targets));
    const portOf = (service: string) => /(\d+)\}?$/.exec(compose.services[service]?.environment?.SAGA_METRICS_ADDRESS ?? '')?.[1];
    expect(portOf('carrier')).toBe('9464');
    expect(targets).toEqual([`worker:${portOf('worker')}`, `carrier:${portOf('carrier')}`]);
  });

  it('alerts on a new dead letter within the hour, and on a backlog that grows for 10 minutes, from the gauges of both processes', () => {
    const alerts = rules.groups.flatMap((g) => g.rules) as { alert: string; expr: string; for?: string }[];
    const dead = alerts.find((r) => r.alert === 'CarrierDeadLetters');
    const backlog = alerts.find((r) => r.alert === 'CarrierBacklogGrowing');
    expect(dead?.expr).toBe('max by (stream) (delta(saga_broker_dead_letters[1h])) > 0');
    expect(backlog?.expr).toContain('max by (stream, consumer) (saga_broker_consumer_pending) > 0');
    expect(backlog?.expr).toContain('delta(saga_broker_consumer_pending[10m])) > 0');
    expect(backlog?.for).toBe('10m');
  });
});

describe('deploy/grafana', () => {
  it('has a Sagas dashboard whose panels all query the provisioned Prometheus, with unique ids and no overlap', () => {
    const [source] = datasources.datasources;
    expect(source?.url).toBe('http://prometheus:9090');
    expect(dashboard.uid).toBe('saga-overview');
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(8);
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
    const cells = new Set<string>();
    for (const panel of dashboard.panels) {
      expect(panel.datasource.uid, panel.title).toBe(source?.uid);
      expect(panel.targets.length, panel.title).toBeGreaterThan(0);
      for (const t of panel.targets) expect(t.datasource.uid, panel.title).toBe(source?.uid);
      const { x, y, w, h } = panel.gridPos;
      expect(x + w, panel.title).toBeLessThanOrEqual(24);
      for (let i = x; i < x + w; i++) for (let j = y; j < y + h; j++) {
        expect(cells.has(`${i},${j}`), `${panel.title} overlaps another panel`).toBe(false);
        cells.add(`${i},${j}`);
      }
    }
  });

  it('shows every saga metric the engine records and the services count, and names no other saga metric', () => {
    const shown = new Set(dashboard.panels.flatMap((p) => p.targets.flatMap((t) => sagaMetricsIn(t.expr))));
    const recorded = Object.values(sagaMetricNames).filter((n) => n !== sagaMetricNames.compensationAttempts && n !== sagaMetricNames.operatorResolutions);
    const known: string[] = [...Object.values(sagaMetricNames), ...Object.values(serviceMetricNames), ...BROKER_GAUGES];
    for (const name of [...recorded, ...Object.values(serviceMetricNames)]) expect(shown, name).toContain(name);
    for (const name of shown) expect(known).toContain(name);
  });

  it('has one panel for the barrier outcomes and one for the injected faults, by their bounded labels', () => {
    const panelOf = (metric: string) => dashboard.panels.filter((p) => p.targets.some((t) => sagaMetricsIn(t.expr).includes(metric)));
    const [outcomes, faults] = [panelOf(serviceMetricNames.barrierOutcomes), panelOf(serviceMetricNames.injectedFaults)];
    expect(outcomes).toHaveLength(1);
    expect(faults).toHaveLength(1);
    expect(outcomes[0]?.targets[0]?.expr).toMatch(/sum by \(service, phase, outcome\)/);
    expect(faults[0]?.targets[0]?.expr).toMatch(/sum by \(service, operation, fault\)/);
  });
});

describe('deploy/grafana, the carrier behind the broker', () => {
  const panelsOf = (metric: string) => dashboard.panels.filter((p) => p.targets.some((t) => sagaMetricsIn(t.expr).includes(metric)));

  it('shows the three consumer gauges in one panel, by stream and consumer, and the dead letters in a stat', () => {
    const [queues] = panelsOf('saga_broker_consumer_pending');
    expect(panelsOf('saga_broker_consumer_pending')).toHaveLength(1);
    expect(queues?.targets.map((t) => t.expr)).toEqual([
      'max by (stream, consumer) (saga_broker_consumer_pending)',
      'max by (stream, consumer) (saga_broker_consumer_ack_pending)',
      'max by (stream, consumer) (saga_broker_consumer_redelivered)',
    ]);
    const dead = panelsOf('saga_broker_dead_letters');
    expect(dead).toHaveLength(1);
    expect((dead[0] as Panel & { type: string }).type).toBe('stat');
  });

  it("counts the carrier's barrier outcomes (no namespace label) beside the worker's", () => {
    const [outcomes] = panelsOf('saga_barrier_outcomes');
    expect(outcomes?.targets[0]?.expr).toContain('saga_barrier_outcomes{process="carrier"}');
  });
});

describe('docker-compose.yml, profile observability', () => {
  it('runs Prometheus and Grafana only in that profile, wired to deploy/, on loopback ports, Grafana refusing to start without a password', () => {
    const { prometheus, grafana } = compose.services;
    expect(prometheus?.profiles).toEqual(['observability']);
    expect(grafana?.profiles).toEqual(['observability']);
    expect(prometheus?.volumes).toContain('./deploy/prometheus:/etc/prometheus:ro');
    expect(grafana?.volumes).toContain('./deploy/grafana/provisioning:/etc/grafana/provisioning:ro');
    expect(grafana?.volumes).toContain('./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro');
    for (const s of [prometheus, grafana]) for (const port of s?.ports ?? []) expect(port).toMatch(/^\$\{PUBLISH_ADDRESS:-127\.0\.0\.1\}:/);
    expect(grafana?.environment?.GF_SECURITY_ADMIN_PASSWORD).toBe('${GRAFANA_ADMIN_PASSWORD:-}');
    expect(grafana?.entrypoint?.join(' ')).toContain('set GRAFANA_ADMIN_PASSWORD');
    expect(grafana?.environment?.GF_AUTH_ANONYMOUS_ENABLED).toBe('false');
    // The worker serves metrics on the compose network, never on a published port.
    expect(compose.services.worker?.ports).toBeUndefined();
  });
});
