// Explores schedules from a seed with fast-check: runs each, and on the first one that breaks a law
// shrinks it to the smallest schedule that still does and reports it with the seed and the path that
// replay it. Shared by `npm run simulate` and the test that runs in `npm test`.

import fc from 'fast-check';
import { runSchedule, type RunOptions } from './runner';
import { scheduleArbitrary, type Schedule } from './schedule';

/** The laws each schedule is checked against, as `npm run simulate` prints them. */
export const lawNames = [
  'no effect applied twice for one saga',
  'every effect stands in a saga that completed or passed its pivot, is undone exactly once, or is reported held for an operator',
  'the query, SagaStatus and the workflow end agree; COMPENSATED/CANCELLED never while an effect stands; COMPLETED never while one was undone',
  'no confirm without every try of its stage; never both confirm and cancel of one participant',
  'no saga left open unless it waits for an operator; no two sagas of a chain share keys',
  'the engine never throws anything but a business failure or a cancellation',
] as const;

/** What an exploration found. */
export interface Exploration {
  seed: number;
  schedules: number;
  ms: number;
  /** The first schedule that broke a law, shrunk, with what it broke and how to replay it. */
  counterexample?: { schedule: Schedule; broken: string[]; path: string };
}

/** Options of {@link explore}. */
export interface ExploreOptions extends RunOptions {
  /** How many schedules to run. */
  schedules: number;
  /** The seed; the same seed explores the same schedules. */
  seed: number;
  /** A path fast-check printed, to replay one schedule (and what follows it) directly. */
  path?: string;
}

/** Runs `schedules` schedules from `seed` and returns the first (shrunk) counterexample, if any. */
export async function explore(options: ExploreOptions): Promise<Exploration> {
  const started = Date.now();
  let broken: string[] = [];
  let count = 0;
  const property = fc.asyncProperty(scheduleArbitrary, async (schedule) => {
    count += 1;
    const result = await runSchedule(schedule, options);
    broken = result.broken;
    return result.broken.length === 0;
  });
  const details = await fc.check(property, { numRuns: options.schedules, seed: options.seed, ...(options.path === undefined ? {} : { path: options.path }) });
  const ms = Date.now() - started;
  if (!details.failed || !details.counterexample) return { seed: options.seed, schedules: count, ms };
  const [schedule] = details.counterexample;
  const last = await runSchedule(schedule, options);
  broken = last.broken.length > 0 ? last.broken : broken;
  return { seed: options.seed, schedules: details.numRuns, ms, counterexample: { schedule, broken, path: details.counterexamplePath ?? '' } };
}
