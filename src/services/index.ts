import { DEFAULT_DATABASE_URL, openDatabase, type Db, type OpenDatabaseOptions } from './db';
import { FaultInjector, withFaults, type FaultConfig } from './faults';
import { SqlInventory, type InventoryService } from './inventory';
import { SqlMail, type MailService } from './mail';
import { SqlPayments, type PaymentsService } from './payments';
import { SqlShipping, type ShippingService } from './shipping';
import { SqlUsers, type UsersService } from './users';

export { audit, type AuditReport } from './audit';
export { DEFAULT_DATABASE_URL, openDatabase, redactUrl, type Db, type OpenDatabaseOptions, type Queryable } from './db';
export { FaultInjector, FAULTS_OPT_IN, faultConfigFromEnv, faultsAreOn, parseFaultConfig, serviceNames, withFaults, type FaultConfig, type ServiceFaults, type ServiceName } from './faults';
export type { InventoryService, Reservation, StockLevel, StockLine } from './inventory';
export { BOUNCE_DOMAIN, type MailKind, type MailService, type OutboxMessage } from './mail';
export { extractVerificationCode } from './mail-templates';
export { catalog } from './migrations';
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
}

/**
 * Opens the database (migrating it) and builds every service on it, each wrapped in the fault
 * injector. Reads no environment: the entry point passes its configuration.
 */
export async function createServices(config: ServicesConfig = {}): Promise<Services> {
  const faults = new FaultInjector(config.faults ?? {});
  if (config.seed !== undefined) faults.configure({ ...faults.current, seed: config.seed });
  const db = await openDatabase(config.databaseUrl ?? DEFAULT_DATABASE_URL, config.database);
  // Users mail their verification codes through the wrapped mail, so mail faults reach those too.
  const mail = withFaults('mail', new SqlMail(db), faults);
  return {
    inventory: withFaults('inventory', new SqlInventory(db), faults),
    payments: withFaults('payments', new SqlPayments(db), faults),
    shipping: withFaults('shipping', new SqlShipping(db), faults),
    users: withFaults('users', new SqlUsers(db, mail), faults),
    mail,
    faults,
    operatorEmail: config.operatorEmail ?? 'ops@saga.test',
    db,
    close: () => db.close(),
  };
}
