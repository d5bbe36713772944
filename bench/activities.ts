// Activities of the step-scaling workflows: as cheap as an activity can be, so what the benchmark
// measures is the cost of scheduling a step and of the saga bookkeeping around it, not of its work.

/** Input of a benchmark step: its position in the saga. */
export interface BenchStepInput {
  i: number;
}

/** The no-op activities of `stepsSaga` and `stepsPlain`. */
export function createBenchActivities() {
  return {
    /** A forward step that does nothing and echoes its position. */
    async benchStep(input: BenchStepInput): Promise<BenchStepInput> {
      return { i: input.i };
    },
    /** The compensation of {@link benchStep}; never called on the success path the benchmark runs. */
    async benchUndo(input: BenchStepInput): Promise<BenchStepInput> {
      return { i: input.i };
    },
  };
}

/** The benchmark activities' types, for the workflow proxies. */
export type BenchActivities = ReturnType<typeof createBenchActivities>;
