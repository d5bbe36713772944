import type { Tracer } from '@opentelemetry/api';
import { DEVELOPMENT_ID_SECRET } from '../config';
import { deriveAtRestKeys } from './at-rest-keys';
import { MailboxLimits } from './mailbox-limits';
import { DEFAULT_DATABASE_URL, openDatabase, type Db, type OpenDatabaseOptions } from './db';
import { FaultInjector, withFaults, type FaultConfig, type ServiceName } from './faults';
import { combined, withBarrierObserver, type ServiceObserver } from './observe';
import { barrierOutcomeOnSpan, injectedFaultOnSpan, withSpans } from './spans';
import { SqlInventory, type InventoryService } from './inventory';
import { SqlMail, type MailService } from './mail';
import { SqlOrderEvents, type OrderEventsService } from './order-events';
import { SqlPayments, type PaymentsService } from './payments';
import { SqlShipping, type ShippingService } from './shipping';
import { SqlUsers, type UsersService } from './users';

export { audit, type AuditReport } from './audit';
export { DEFAULT_DATABASE_URL, openDatabase, redactUrl, type Db, type OpenDatabaseOptions, type Queryable } from './db';
export {
  FaultInjector,
  FaultKind,
  FAULTS_OPT_IN,
  faultConfigFromEnv,
  faultsAreOn,
  parseFaultConfig,
  serviceNames,
  withFaults,
  type FaultConfig,
  type InjectedFault,
  type ServiceFaults,
  type ServiceName,
} from './faults';
export { withBarrierObserver, type BarrierOutcome, type ServiceObserver } from './observe';
export { serviceSpanAttributes } from './spans';
export type { InventoryService, Reservation, StockLevel, StockLine } from './inventory';
export { BOUNCE_DOMAIN, type MailKind, type MailService, type OutboxMessage } from './mail';
export { extractVerificationCode } from './mail-templates';
export { catalog } from './migrations';
export { OrderOutcome, type NewOrderOutcome, type OrderEventsService, type OrderOutcomeEvent } from './order-events';
export { FLAKY_FAILURES, paymentTokens, type Payment, type PaymentsService } from './payments';
export { carrierFor, type Shipment, type ShippingAddress, type ShippingService } from './shipping';
export type { User, UsersService, UserStatus } from './users';

/** The systems the sagas coordinate, sharing one database. */
export interface Services {
  inventory: InventoryService;
  payments: PaymentsService;
  shipping: ShippingService;
  users: UsersService;
  mail: MailService;
  /** The outbox of order outcomes, published by the relay. */
  orderEvents: OrderEventsService;
  /** The fault injector every service consults; reconfigure it at run time. */
  faults: FaultInjector;
  /** Where operator alerts are mailed. */
  operatorEmail: string;
  /** The shared database, for audits and tests. */
  db: Db;
  /** Closes the database. */
  close(): Promise<void>;
}

/** Options of {@link createServices}. */
export interface ServicesConfig {
  /** `sqlite:<file>`, `sqlite::memory:` or `postgres://…`. @default DEFAULT_DATABASE_URL ("sqlite:.data/saga.db") */
  databaseUrl?: string;
  /** Faults to inject (testing only; the worker passes those of `SAGA_FAULTS`). @default none */
  faults?: FaultConfig;
  /** Where operator alerts are mailed. @default "ops@saga.test" */
  operatorEmail?: string;
  /** Seed of the fault injector's random draws; overrides `faults.seed`. @default a random seed */
  seed?: number;
  /** Pool size and timeouts of the database. @default those of {@link openDatabase} */
  database?: OpenDatabaseOptions;
  /**
   * The secret the keys protecting verification data at rest derive from: the pepper of code hashes,
   * the key of verification e-mails in the outbox, the key of the mailbox limits' table. The worker
   * passes `SAGA_ID_SECRET`; it must never be stored in the database. @default DEVELOPMENT_ID_SECRET
   */
  secret?: string;
  /** Hears the barrier's outcomes of committed calls and the faults injected, e.g. to count them. @default none */
  observer?: ServiceObserver;
  /**
   * Runs each service operation in a span of this tracer, a child of the calling activity's, with
   * the barrier's outcome as an attribute. @default no spans
   */
  tracer?: Tracer;
}

/**
 * Opens the database (migrating it) and builds every service on it, each wrapped in the fault
 * injector (and, given a tracer, in spans). Reads no environment: the entry point passes its configuration.
 */
export async function createServices(config: ServicesConfig = {}): Promise<Services> {
  const { observer, tracer } = config;
  const onFault = combined(observer?.injectedFault?.bind(observer), tracer && injectedFaultOnSpan);
  const onOutcome = combined(observer?.barrierOutcome?.bind(observer), tracer && barrierOutcomeOnSpan);
  const faults = new FaultInjector(config.faults ?? {}, onFault);
  if (config.seed !== undefined) faults.configure({ ...faults.current, seed: config.seed });
  const opened = await openDatabase(config.databaseUrl ?? DEFAULT_DATABASE_URL, config.database);
  const db = onOutcome ? withBarrierObserver(opened, onOutcome) : opened;
  // Spans outside faults, so that an injected fault shows as the operation's failure.
  const wrap = <T extends object>(name: ServiceName, service: T): T => {
    const faulty = withFaults(name, service, faults);
    return tracer ? withSpans(name, faulty, tracer) : faulty;
  };
  const keys = deriveAtRestKeys(config.secret ?? DEVELOPMENT_ID_SECRET);
  const limits = new MailboxLimits(keys.mailbox);
  // Users mail their verification codes through the wrapped mail, so mail faults reach those too.
  const mail = wrap('mail', new SqlMail(db, keys.outbox, limits));
  return {
    inventory: wrap('inventory', new SqlInventory(db)),
    payments: wrap('payments', new SqlPayments(db)),
    shipping: wrap('shipping', new SqlShipping(db)),
    users: wrap('users', new SqlUsers(db, mail, keys.codeHash, limits)),
    mail,
    orderEvents: new SqlOrderEvents(db),
    faults,
    operatorEmail: config.operatorEmail ?? 'ops@saga.test',
    db,
    close: () => db.close(),
  };
}
