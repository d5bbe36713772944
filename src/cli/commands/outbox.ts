import { createServices, extractVerificationCode, type OutboxMessage } from '../../services';
import { DEFAULT_DATABASE_URL } from '../../services/db';
import { emailSchema } from '../../shared/validation';
import { table } from '../../report';
import { printRecords, requiredFlag, type CommandSpec } from '../command';
import { CliError, ExitCode, UsageError } from '../errors';

// The development stack's mail never leaves the machine: it lands in the services' outbox table.
// This command reads it, so that a new user finds a registration's code without writing SQL. It opens
// the sealed bodies of verification e-mails with the same secret the worker sealed them with.

/** `saga-client outbox --to <address>`: the e-mails sent to one address, on the development stack. */
export const outbox: CommandSpec = {
  name: 'outbox',
  args: [],
  summary: 'Show the e-mails the development stack sent to an address, verification codes included (development only)',
  details: [
    "Reads the services' database (DATABASE_URL, default .data/saga.db) and opens verification e-mails with SAGA_ID_SECRET, as the worker sealed them.",
    'Refused in production: there mail goes out through a real provider, and the outbox is no one else’s to read.',
  ],
  options: [{ name: 'to', type: 'string', arg: '<address>', doc: 'The address the e-mails went to (required)' }],
  async run(ctx, flags) {
    const raw = requiredFlag(flags, 'to', 'outbox');
    if (ctx.config.production) {
      throw new CliError('outbox reads the development stack\'s mail: refused in production (NODE_ENV is not development or test); read the mail provider instead', ExitCode.USAGE);
    }
    const address = emailSchema.safeParse(raw.trim());
    if (!address.success) throw new UsageError(`--to "${raw}" is not an e-mail address`, 'outbox');
    const services = await createServices({ databaseUrl: ctx.io.env.DATABASE_URL || DEFAULT_DATABASE_URL, secret: ctx.config.idSecret });
    let messages: OutboxMessage[];
    try {
      messages = await services.mail.outbox({ to: address.data });
    } finally {
      await services.close();
    }
    const rows = messages.map((m) => ({ ...m, ...(m.kind === 'verification' ? { code: extractVerificationCode(m.text) ?? null } : {}) }));
    printRecords(ctx, rows, () => {
      if (rows.length === 0) return [`No e-mail to ${address.data} in the outbox.`];
      const latest = [...rows].reverse().find((r) => r.kind === 'verification' && r.status === 'sent');
      return [
        table(
          ['SENT', 'KIND', 'STATUS', 'SUBJECT', 'CODE'],
          rows.map((r) => [r.createdAt.replace('T', ' ').slice(0, 19), r.kind, r.status, r.subject, r.code ?? '-']),
        ),
        ...(latest?.code ? ['', `Latest verification code: ${latest.code}`] : []),
      ];
    });
    return ExitCode.OK;
  },
};
