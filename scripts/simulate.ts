// npm run simulate -- [--schedules N] [--seed S] [--path P]: explores N simulated schedules of the saga
// engine and the barrier from seed S, checks the laws after each, and prints the count, the time and
// the laws; on a broken law, the shrunk schedule, the seed and the path that replay it. Exit 1 then.

import { explore, lawNames } from '../tools/simulation/explore';

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
}

function positiveInteger(name: string, fallback: number): number {
  const raw = flag(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1) {
    console.error(`--${name} takes a positive integer, not "${raw}"`);
    process.exit(2);
  }
  return value;
}

async function main(): Promise<void> {
  const schedules = positiveInteger('schedules', 10_000);
  const seed = flag('seed') === undefined ? Date.now() % 2 ** 31 : positiveInteger('seed', 1);
  const path = flag('path');
  console.log(`simulating ${schedules} schedules from seed ${seed}${path ? ` (path ${path})` : ''}`);
  const result = await explore({ schedules, seed, ...(path === undefined ? {} : { path }) });
  console.log(`laws checked after every schedule:\n${lawNames.map((l) => `  - ${l}`).join('\n')}`);
  if (result.counterexample) {
    const { schedule, broken, path: replay } = result.counterexample;
    console.log(`a law broke after ${result.schedules} schedules (${(result.ms / 1000).toFixed(1)} s):\n${broken.map((b) => `  ! ${b}`).join('\n')}`);
    console.log(`shrunk schedule:\n${JSON.stringify(schedule, null, 2)}`);
    console.log(`replay: npm run simulate -- --seed ${seed} --path ${replay} --schedules ${schedules}`);
    process.exitCode = 1;
    return;
  }
  console.log(`${result.schedules} schedules, no law broken, in ${(result.ms / 1000).toFixed(1)} s (seed ${seed})`);
}

void main();
