import { ConfigError } from '../../src/config';

/** The problems of the {@link ConfigError} that `load` throws; fails when it throws none, or another error. */
export function configErrorProblems(load: () => unknown): readonly string[] {
  try {
    load();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}
