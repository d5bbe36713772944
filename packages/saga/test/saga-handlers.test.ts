import { describe, expect, it } from 'vitest';
import {
  markCompensatedUpdate,
  retryCompensationStepsUpdate,
  retryCompensationUpdate,
  retryStepUpdate,
  sagaHandlerDefinitions,
  sagaStateQuery,
  skipCompensationUpdate,
} from '../src/saga-handlers';

// The names a saga answers to are what its clients, the CLI and recorded histories call it by: the
// defaults are written out here, and a saga given other names must define its handlers under those.

/** The definitions the package exports, by the key `sagaHandlerDefinitions` gives each. */
const exported = {
  state: sagaStateQuery,
  retryCompensation: retryCompensationUpdate,
  retryCompensationSteps: retryCompensationStepsUpdate,
  markCompensated: markCompensatedUpdate,
  skipCompensation: skipCompensationUpdate,
  retryStep: retryStepUpdate,
};

describe('the saga handler definitions', () => {
  it('carry the default names: the query sagaState and the updates retryCompensation, markCompensated, skipCompensation and retryStep', () => {
    expect(sagaStateQuery).toEqual({ type: 'query', name: 'sagaState' });
    expect(retryCompensationUpdate).toEqual({ type: 'update', name: 'retryCompensation' });
    expect(retryCompensationStepsUpdate).toEqual({ type: 'update', name: 'retryCompensation' });
    expect(markCompensatedUpdate).toEqual({ type: 'update', name: 'markCompensated' });
    expect(skipCompensationUpdate).toEqual({ type: 'update', name: 'skipCompensation' });
    expect(retryStepUpdate).toEqual({ type: 'update', name: 'retryStep' });
  });

  it('are the exported definitions themselves when no name is given, or only the default ones', () => {
    const defaults = { state: 'sagaState', retryCompensation: 'retryCompensation', markCompensated: 'markCompensated', skipCompensation: 'skipCompensation', retryStep: 'retryStep' };
    for (const definitions of [sagaHandlerDefinitions(), sagaHandlerDefinitions({}), sagaHandlerDefinitions(defaults)]) {
      expect(Object.keys(definitions).sort()).toEqual(Object.keys(exported).sort());
      for (const [key, definition] of Object.entries(exported)) expect(definitions[key as keyof typeof exported]).toBe(definition);
    }
  });

  it('define every handler under the name given, the retry with steps under the retry name', () => {
    expect(
      sagaHandlerDefinitions({ state: 'tripState', retryCompensation: 'tripRetry', markCompensated: 'tripMarkDone', skipCompensation: 'tripSkip', retryStep: 'tripRetryStep' }),
    ).toEqual({
      state: { type: 'query', name: 'tripState' },
      retryCompensation: { type: 'update', name: 'tripRetry' },
      retryCompensationSteps: { type: 'update', name: 'tripRetry' },
      markCompensated: { type: 'update', name: 'tripMarkDone' },
      skipCompensation: { type: 'update', name: 'tripSkip' },
      retryStep: { type: 'update', name: 'tripRetryStep' },
    });
  });

  it.each([
    ['state', { state: 'tripState' }, { state: { type: 'query', name: 'tripState' } }],
    ['retryCompensation', { retryCompensation: 'tripRetry' }, { retryCompensation: { type: 'update', name: 'tripRetry' }, retryCompensationSteps: { type: 'update', name: 'tripRetry' } }],
    ['markCompensated', { markCompensated: 'tripMarkDone' }, { markCompensated: { type: 'update', name: 'tripMarkDone' } }],
    ['skipCompensation', { skipCompensation: 'tripSkip' }, { skipCompensation: { type: 'update', name: 'tripSkip' } }],
    ['retryStep', { retryStep: 'tripRetryStep' }, { retryStep: { type: 'update', name: 'tripRetryStep' } }],
  ] as const)('given only %s, define that one anew and keep the exported definitions of the others', (_name, names, renamed) => {
    const definitions = sagaHandlerDefinitions(names);
    for (const [key, definition] of Object.entries(exported)) {
      if (key in renamed) expect(definitions[key as keyof typeof exported]).toEqual(renamed[key as keyof typeof renamed]);
      else expect(definitions[key as keyof typeof exported]).toBe(definition);
    }
  });
});
