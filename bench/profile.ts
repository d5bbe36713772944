// Summarizes `node --cpu-prof` profiles: where the CPU time went, by area (our code, the Temporal SDK,
// SQLite, the rest) and the hottest functions of our code by self and by total time.
//
//   tsx bench/profile.ts <folder of .cpuprofile files>

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchBundle } from './harness';
import { markdownTable } from './report';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

/** The parts of a `.cpuprofile` the summary reads. */
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** Where a frame's code comes from. */
export type Area = 'ours' | 'temporal-sdk' | 'sqlite' | 'zod' | 'node-internals' | 'other-deps' | 'idle-gc-program';

/** Time of one function (ms), summed over every place it was called from. */
export interface FrameTime {
  name: string;
  area: Area;
  selfMs: number;
  totalMs: number;
}

/** What one profile shows. */
export interface ProfileSummary {
  /** Wall time the profile covers, in ms. */
  durationMs: number;
  /** Sampled time that was not idle, in ms. */
  busyMs: number;
  /** Self time by area, in ms. */
  byArea: Record<Area, number>;
  /** Every function, hottest self time first. */
  frames: FrameTime[];
}

/** Where each module of a webpack development bundle starts, from the module header comments webpack writes. */
export function bundleModules(code: string): BundleModule[] {
  const modules: BundleModule[] = [];
  code.split('\n').forEach((text, line) => {
    const match = /^\/\*\*\*\/ "([^"]+)"/.exec(text);
    if (match) modules.push({ line, path: match[1]! });
  });
  return modules;
}

/** A module of the workflow bundle and the (0-based) line its code starts at. */
export interface BundleModule {
  line: number;
  path: string;
}

function moduleAt(modules: readonly BundleModule[], line: number): string | undefined {
  let lo = 0;
  let hi = modules.length - 1;
  let found: string | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (modules[mid]!.line <= line) {
      found = modules[mid]!.path;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

function areaOfPath(path: string): Area {
  if (path.includes('node_modules/@temporalio/')) return 'temporal-sdk';
  if (path.includes('node_modules/better-sqlite3/')) return 'sqlite';
  if (path.includes('node_modules/zod/')) return 'zod';
  if (path.includes('node_modules/')) return 'other-deps';
  if (/(^|\/)(src|bench)\//.test(path)) return 'ours';
  return 'other-deps';
}

// Where a frame's code lives: a path relative to the project (for the workflow bundle, the module the
// line falls in), or a Node internal or V8 pseudo-frame.
function locate(frame: CallFrame, modules: readonly BundleModule[]): { where: string; area: Area } {
  const { url, functionName } = frame;
  if (!url) return { where: '', area: /^\((idle|garbage collector|program|root)\)$/.test(functionName) ? 'idle-gc-program' : 'node-internals' };
  if (url.startsWith('node:')) return { where: url, area: 'node-internals' };
  if (url.includes('workflow-bundle')) {
    const path = moduleAt(modules, frame.lineNumber);
    return path ? { where: `[bundle] ${path.replace(/^\.\//, '')}`, area: areaOfPath(path) } : { where: '[bundle]', area: 'temporal-sdk' };
  }
  const at = url.search(/\/(src|bench|node_modules)\//);
  const where = at >= 0 ? url.slice(at + 1) : (url.split('/').pop() ?? url);
  return { where, area: areaOfPath(where) };
}

/** Self and total time of every function in one profile. */
export function summarizeProfile(profile: CpuProfile, modules: readonly BundleModule[] = []): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  // A sample's delta is the time until the next sample, so it belongs to the sample before it.
  for (let i = 0; i < samples.length; i++) {
    const next = deltas[i + 1] ?? 0;
    self.set(samples[i]!, (self.get(samples[i]!) ?? 0) + next / 1000);
  }
  const byArea = Object.fromEntries(
    (['ours', 'temporal-sdk', 'sqlite', 'zod', 'node-internals', 'other-deps', 'idle-gc-program'] as const).map((a) => [a, 0]),
  ) as Record<Area, number>;
  const frames = new Map<string, FrameTime>();
  const frameOf = (frame: CallFrame): FrameTime => {
    const { where, area } = locate(frame, modules);
    // Lines of the bundle and of TypeScript transpiled on the fly say nothing to a reader: such a
    // function is named by its module only; plain JavaScript files keep their line.
    const line = /\.(c|m)?js$/.test(where) ? `:${frame.lineNumber + 1}` : '';
    const key = `${frame.functionName || '(anonymous)'} ${where}${line}`.trim();
    let entry = frames.get(key);
    if (!entry) {
      entry = { name: key, area, selfMs: 0, totalMs: 0 };
      frames.set(key, entry);
    }
    return entry;
  };
  const root = profile.nodes[0];
  if (root) {
    // Iterative walk: the stack holds each node with the functions above it, counted once each even under recursion.
    const stack: { id: number; above: Set<FrameTime> }[] = [{ id: root.id, above: new Set() }];
    while (stack.length > 0) {
      const { id, above } = stack.pop()!;
      const node = byId.get(id);
      if (!node) continue;
      const entry = frameOf(node.callFrame);
      const ms = self.get(id) ?? 0;
      entry.selfMs += ms;
      byArea[entry.area] += ms;
      const path = new Set(above).add(entry);
      for (const frame of path) frame.totalMs += ms;
      for (const child of node.children ?? []) stack.push({ id: child, above: path });
    }
  }
  const durationMs = (profile.endTime - profile.startTime) / 1000;
  return {
    durationMs,
    busyMs: Object.entries(byArea).reduce((sum, [area, ms]) => (area === 'idle-gc-program' ? sum : sum + ms), 0),
    byArea,
    frames: [...frames.values()].sort((a, b) => b.selfMs - a.selfMs),
  };
}

const ms = (value: number) => value.toFixed(0);

/** Summarizes every `.cpuprofile` of a folder (one per thread) as Markdown. */
export function summarizeProfiles(dir: string, bundleCode?: string, top = 15): string {
  const modules = bundleCode === undefined ? [] : bundleModules(bundleCode);
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort();
  const out: string[] = [];
  for (const file of files) {
    const summary = summarizeProfile(JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile, modules);
    const thread = file.split('.').at(-3) === '0' ? 'main thread' : `thread ${file.split('.').at(-3)}`;
    out.push(`### ${thread} (${file}): ${ms(summary.durationMs)} ms profiled, ${ms(summary.busyMs)} ms busy`, '');
    out.push(
      markdownTable(
        ['area', 'self ms', 'share of busy'],
        Object.entries(summary.byArea)
          .filter(([area]) => area !== 'idle-gc-program')
          .sort((a, b) => b[1] - a[1])
          .map(([area, t]) => [area, ms(t), `${((100 * t) / Math.max(1, summary.busyMs)).toFixed(1)} %`]),
      ),
      '',
    );
    const ours = summary.frames.filter((f) => f.area === 'ours');
    out.push(`Our code, by self time:`, '');
    out.push(markdownTable(['function', 'self ms', 'total ms'], ours.slice(0, top).map((f) => [f.name, ms(f.selfMs), ms(f.totalMs)])), '');
    out.push(`Our code, by total time (including what it calls):`, '');
    out.push(
      markdownTable(
        ['function', 'total ms', 'self ms'],
        [...ours]
          .sort((a, b) => b.totalMs - a.totalMs)
          .slice(0, top)
          .map((f) => [f.name, ms(f.totalMs), ms(f.selfMs)]),
      ),
      '',
    );
    out.push(`Hottest functions overall, by self time:`, '');
    out.push(
      markdownTable(
        ['function', 'area', 'self ms'],
        summary.frames
          .filter((f) => f.area !== 'idle-gc-program')
          .slice(0, top)
          .map((f) => [f.name, f.area, ms(f.selfMs)]),
      ),
      '',
    );
  }
  return out.join('\n');
}

if (require.main === module) {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: tsx bench/profile.ts <folder of .cpuprofile files>');
    process.exit(1);
  }
  benchBundle().then(
    ({ code }) => console.log(summarizeProfiles(dir, code)),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
