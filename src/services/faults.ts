import { z } from 'zod';
import { describeIssues } from '../shared/validation';
import { transientFailure } from '../shared/failures';

/** The services faults can be injected into. */
export const serviceNames = ['inventory', 'payments', 'shipping', 'users', 'mail'] as const;
export type ServiceName = (typeof serviceNames)[number];

/**
 * Faults of one service. Operation names are the service's method names, e.g. inventory `reserve`
 * and `release`; payments `authorize`, `void`, `capture`, `refund`; shipping `create`, `cancel`;
 * users `create`, `delete`, `activate`, `issueVerificationCode`, `checkVerificationCode`; mail `send`.
 */
export interface ServiceFaults {
  /** Probability (0 to 1) that a call fails transiently before it changes anything. @default 0 */
  transientErrorRate?: number;
  /** Latency added to every call in ms, or `[min, max]` drawn uniformly. @default 0 */
  latencyMs?: number | readonly [number, number];
  /** Probability (0 to 1) that a call commits its change and then fails, as if its reply were lost. @default 0 */
  lostReplyRate?: number;
  /** Operations that always fail transiently, e.g. `["refund"]` for a provider that refuses refunds for a day. @default [] */
  failOperations?: readonly string[];
}

/** Faults per service, plus the seed of the random draws. Everything is off when a service is absent. */
export type FaultConfig = { [S in ServiceName]?: ServiceFaults } & {
  /** Seed of the random draws, so a run with faults can be repeated. @default a random seed */
  seed?: number;
};

const rate = z.number().min(0).max(1);
const serviceFaultsSchema = z.strictObject({
  transientErrorRate: rate.optional(),
  latencyMs: z.union([z.number().min(0).max(60_000), z.tuple([z.number().min(0), z.number().min(0).max(60_000)])]).optional(),
  lostReplyRate: rate.optional(),
  failOperations: z.array(z.string().min(1).max(64)).max(32).optional(),
});
const faultConfigSchema = z.strictObject({
  seed: z.number().int().optional(),
  inventory: serviceFaultsSchema.optional(),
  payments: serviceFaultsSchema.optional(),
  shipping: serviceFaultsSchema.optional(),
  users: serviceFaultsSchema.optional(),
  mail: serviceFaultsSchema.optional(),
});

/** Thrown when a fault configuration (an object, or `SAGA_FAULTS`) is invalid. */
export class FaultConfigError extends Error {
  override readonly name = 'FaultConfigError';
  constructor(readonly problems: string) {
    super(`Invalid fault configuration: ${problems}`);
  }
}

/** Validates a fault configuration given as an object (e.g. parsed JSON). */
export function parseFaultConfig(value: unknown): FaultConfig {
  const parsed = faultConfigSchema.safeParse(value);
  if (!parsed.success) throw new FaultConfigError(describeIssues(parsed.error));
  return parsed.data;
}

/** The variable that must be `true` before `SAGA_FAULTS` may turn any fault on. */
export const FAULTS_OPT_IN = 'SAGA_FAULTS_ENABLED';

/** Whether a fault configuration turns any fault on (a seed alone, or `{}`, does not). */
export function faultsAreOn(config: FaultConfig): boolean {
  return serviceNames.some((service) => config[service] !== undefined);
}

/**
 * The fault configuration in the `SAGA_FAULTS` environment variable (JSON), or undefined when unset.
 * Faults are refused unless `SAGA_FAULTS_ENABLED=true` too: a variable left over from a test run must
 * not make a production worker fail calls on purpose.
 */
export function faultConfigFromEnv(env: Record<string, string | undefined> = process.env): FaultConfig | undefined {
  const raw = env.SAGA_FAULTS;
  if (!raw) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new FaultConfigError('SAGA_FAULTS is not valid JSON');
  }
  const config = parseFaultConfig(value);
  if (faultsAreOn(config) && env.SAGA_FAULTS_ENABLED?.trim().toLowerCase() !== 'true') {
    throw new FaultConfigError(`SAGA_FAULTS turns faults on, but ${FAULTS_OPT_IN} is not "true": fault injection is for testing and must be switched on explicitly`);
  }
  return config;
}

/** The kinds of fault the injector applies, as `saga_injected_faults` labels them. */
export const FaultKind = {
  /** A call failed transiently before it changed anything (`transientErrorRate`). */
  transient: 'transient',
  /** A call was delayed (`latencyMs`). */
  latency: 'latency',
  /** A call committed its change, then failed as if its reply were lost (`lostReplyRate`). */
  lostReply: 'lost_reply',
  /** A call of an operation listed in `failOperations` failed. */
  fail: 'fail',
} as const;

export type FaultKind = (typeof FaultKind)[keyof typeof FaultKind];

/** One fault the injector applied: bounded values only (service, operation name, kind), never an id. */
export interface InjectedFault {
  readonly service: ServiceName;
  readonly operation: string;
  readonly fault: FaultKind;
}

/** mulberry32: tiny, fast and good enough to decide whether a call fails. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Decides, per service call, whether to delay it, fail it before it acts, or fail it after its change
 * committed (a lost reply). Off unless configured; reconfigurable while calls are running.
 */
export class FaultInjector {
  private config: FaultConfig = {};
  private currentSeed = Math.floor(Math.random() * 2 ** 31);
  private random = seededRandom(this.currentSeed);

  /** `onFault` hears of every fault applied (to count them); an exception it throws is ignored. */
  constructor(
    config: FaultConfig = {},
    private readonly onFault?: (fault: InjectedFault) => void,
  ) {
    this.configure(config);
  }

  /** The seed of the current draws; pass it back in `seed` to repeat a run. */
  get seed(): number {
    return this.currentSeed;
  }

  /** The active configuration. */
  get current(): FaultConfig {
    return this.config;
  }

  /** Replaces the whole configuration; reseeds when `seed` is given. */
  configure(config: FaultConfig): void {
    const parsed = parseFaultConfig(config);
    if (parsed.seed !== undefined) {
      this.currentSeed = parsed.seed;
      this.random = seededRandom(parsed.seed);
    }
    this.config = parsed;
  }

  /** Sets (or, with undefined, clears) the faults of one service, leaving the draws' sequence as it is. */
  set(service: ServiceName, faults: ServiceFaults | undefined): void {
    const { [service]: _previous, ...others } = this.config;
    this.config = parseFaultConfig(faults ? { ...others, [service]: faults } : others);
  }

  /** Turns every fault off, leaving the draws' sequence as it is. */
  clear(): void {
    this.config = {};
  }

  /**
   * Runs one service operation under the configured faults: latency first, then a transient failure
   * before `fn` starts, then (after `fn` resolved, so after its commit) a lost reply.
   */
  async around<T>(service: ServiceName, operation: string, fn: () => Promise<T>): Promise<T> {
    const faults = this.config[service];
    if (!faults) return fn();
    const latency = this.latency(faults.latencyMs);
    if (latency > 0) {
      this.report(service, operation, FaultKind.latency);
      await new Promise((resolve) => setTimeout(resolve, latency));
    }
    if (faults.failOperations?.includes(operation)) {
      this.report(service, operation, FaultKind.fail);
      throw transientFailure(`${service}.${operation} is failing (injected fault: failOperations)`, 'InjectedFault');
    }
    if (this.draw(faults.transientErrorRate)) {
      this.report(service, operation, FaultKind.transient);
      throw transientFailure(`${service}.${operation} failed transiently (injected fault)`, 'InjectedFault');
    }
    const result = await fn();
    if (this.draw(faults.lostReplyRate)) {
      this.report(service, operation, FaultKind.lostReply);
      throw transientFailure(`${service}.${operation} committed but its reply was lost (injected fault)`, 'LostReply');
    }
    return result;
  }

  private report(service: ServiceName, operation: string, fault: FaultKind): void {
    try {
      this.onFault?.({ service, operation, fault });
    } catch {
      // Counting a fault must not change what the fault does.
    }
  }

  private draw(probability: number | undefined): boolean {
    return probability !== undefined && probability > 0 && this.random() < probability;
  }

  private latency(spec: ServiceFaults['latencyMs']): number {
    if (spec === undefined) return 0;
    if (typeof spec === 'number') return spec;
    const [min, max] = spec;
    return min + this.random() * Math.max(0, max - min);
  }
}

/**
 * The operations of each service that faults apply to, with the name `failOperations` knows them by.
 * Reads (stock levels, a user's record) stay out: audits and tests read through faults. The mail's
 * `sendWith` is its `send` with a change of another service in the same transaction.
 */
export const faultableOperations: { readonly [S in ServiceName]: Readonly<Record<string, string>> } = {
  inventory: { reserve: 'reserve', release: 'release' },
  payments: { authorize: 'authorize', void: 'void', capture: 'capture', refund: 'refund' },
  shipping: { create: 'create', cancel: 'cancel' },
  users: { create: 'create', delete: 'delete', activate: 'activate', issueVerificationCode: 'issueVerificationCode', checkVerificationCode: 'checkVerificationCode' },
  mail: { send: 'send', sendWith: 'send' },
};

/**
 * Returns `service` with each of its {@link faultableOperations} run under `faults.around`, so the
 * business methods know nothing of fault injection. Other members pass through unchanged.
 */
export function withFaults<T extends object>(service: ServiceName, target: T, faults: FaultInjector): T {
  return wrapOperations(service, target, (operation, call) => faults.around(service, operation, call));
}

/**
 * Returns `target` with each of `service`'s {@link faultableOperations} run through `wrap`, which gets
 * the operation's name and the call to make; other members pass through unchanged. What the fault
 * and span wrappers share.
 */
export function wrapOperations<T extends object>(service: ServiceName, target: T, wrap: (operation: string, call: () => Promise<unknown>) => Promise<unknown>): T {
  const operations = faultableOperations[service];
  return new Proxy(target, {
    get(object, property, receiver) {
      const value: unknown = Reflect.get(object, property, receiver);
      const operation = typeof property === 'string' ? operations[property] : undefined;
      if (operation === undefined || typeof value !== 'function') return value;
      return (...args: unknown[]) => wrap(operation, () => (value as (...a: unknown[]) => Promise<unknown>).apply(object, args));
    },
  });
}
