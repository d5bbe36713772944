import {
  CancellationScope,
  condition,
  isCancellation,
  log,
  patched,
  setCurrentDetails,
  setHandler,
  sleep,
  uuid4,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { formatDuration } from '../shared/format';
import { businessFailure, FailureType } from '../shared/failures';
import { activity, describeFailure, Saga, sagaActivities } from '@saga-temporal/saga';
import { parseStrictOrEarlier } from '../shared/validation';
import {
  CANCELLED_REASON,
  MAX_CODE_ATTEMPTS,
  MAX_MESSAGES,
  MAX_VERIFICATION_SENDS,
  RESEND_INTERVAL_MS,
  registrationInputBeforeStrictTextSchema,
  registrationInputSchema,
  resendVerificationSignal,
  verificationStateQuery,
  verifyEmailSignal,
  verifyEmailUpdate,
  type RegistrationInput,
  type RegistrationResult,
  type VerificationAnswer,
  type VerificationState,
} from './contract';
import { alertOperator } from '../operator/workflow';
import { compensationRetry, mailOptions, checkOptions, stepOptions } from '../shared/policies';

const codePattern = /^[A-Za-z0-9]{4,12}$/;

// The message bound changed what a registration does at its MAX_MESSAGES-th message (it stops waiting
// and unwinds). Registrations that had passed that many messages before the bound was deployed waited
// on; this patch lets their histories replay as they ran.
const MESSAGE_BOUND_PATCH = 'registration-message-bound';

// The input rules were tightened (ASCII-only addresses, NFKC, no invisible characters) while
// registrations were running: one started under the looser rules is parsed with them, or its replay
// would fail at the start on an input it was accepted with.
const STRICT_INPUT_PATCH = 'registration-strict-input';

// A code check used to run in the scope of the handler that asked for it, so cancelling the
// registration cancelled a check under way; checks now finish, and their answer counts. Histories of
// registrations cancelled while a check ran before this patch replay with the cancellation they recorded.
const CHECK_OUTLIVES_CANCELLATION_PATCH = 'registration-check-outlives-cancellation';

// Runs a code check out of the cancellation's reach. The patch is asked only when a cancellation meets
// a check under way, the one moment old and new code differ, so a registration never cancelled while
// checking records no marker.
function checkOutlivingCancellation<T>(check: () => Promise<T>): Promise<T> {
  const root = CancellationScope.current();
  let underWay = true;
  return CancellationScope.nonCancellable(() => {
    const scope = new CancellationScope();
    root.cancelRequested.catch(() => {
      if (underWay && !patched(CHECK_OUTLIVES_CANCELLATION_PATCH)) scope.cancel();
    });
    return scope.run(check);
  }).finally(() => (underWay = false));
}

// One proxy per retry policy of src/shared/policies.ts: forward steps, quick checks, best-effort mail.
const stepActivities = sagaActivities<Activities>(stepOptions);
const checkActivities = sagaActivities<Activities>(checkOptions);
const mailActivities = sagaActivities<Activities>(mailOptions);

/**
 * The registration saga: create the account, mail a verification code and wait for it until a
 * deadline, then activate the account and send a welcome e-mail.
 *
 * Too many wrong codes, the deadline passing, a bouncing address or a cancellation undo it: the user
 * gets an error e-mail (best effort: its failure never blocks what follows), then the account is deleted.
 */
export async function registrationSaga(rawInput: RegistrationInput): Promise<RegistrationResult> {
  const input = parseStrictOrEarlier(registrationInputSchema, registrationInputBeforeStrictTextSchema, () => patched(STRICT_INPUT_PATCH), 'registration', rawInput);
  const userId = input.userId ?? `u-${uuid4()}`;
  const { email, name } = input;
  const timeout = formatDuration(input.verificationTimeout);

  const verification: VerificationState = { phase: 'sending', attemptsLeft: MAX_CODE_ATTEMPTS, sends: 0, resendsRefused: 0 };
  let resendRequested = false;
  let lastSentAt = 0;
  let failureReason: string | undefined;
  let messages = 0;
  // Decided at the message that reaches the bound, the one place patched() is asked: a registration
  // whose history passed it without the patch's marker keeps taking messages, as it did.
  let flooded = false;
  const countMessage = (): void => {
    messages += 1;
    if (messages === MAX_MESSAGES) flooded = patched(MESSAGE_BOUND_PATCH);
  };
  let addressLocked = false;
  const closed = (): VerificationAnswer => ({
    accepted: verification.phase === 'verified',
    outcome: verification.phase === 'verified' ? 'verified' : 'closed',
    attemptsLeft: verification.attemptsLeft,
  });

  // Codes from updates and signals are checked one at a time, so attempts are counted exactly.
  let checking: Promise<unknown> = Promise.resolve();
  const tryCode = (code: string): Promise<VerificationAnswer> => {
    const answer = checking.then(() => checkCode(code));
    checking = answer.catch(() => undefined);
    return answer;
  };
  const checkCode = async (code: string): Promise<VerificationAnswer> => {
    // Once the registration stops waiting (or is cancelled, before its body has noticed) no check is
    // scheduled: the unwinding must not race a late code, and a cancelled scope cannot run one.
    if (verification.phase !== 'waiting' || CancellationScope.current().consideredCancelled) return closed();
    // A check already under way when a cancellation arrives finishes, so its answer is counted.
    const check = () => checkActivities.checkVerificationCode.executeWithOptions({ summary: `Check verification code of user ${userId}` }, [{ userId, code }]);
    const { accepted, locked } = await checkOutlivingCancellation(check);
    if (verification.phase !== 'waiting') return closed();
    if (accepted) {
      verification.phase = 'verified';
      return { accepted: true, outcome: 'verified', attemptsLeft: verification.attemptsLeft };
    }
    if (locked) {
      addressLocked = true;
      verification.attemptsLeft = 0;
      verification.phase = 'locked';
      return { accepted: false, outcome: 'locked', attemptsLeft: 0 };
    }
    verification.attemptsLeft -= 1;
    if (verification.attemptsLeft === 0) verification.phase = 'locked';
    return { accepted: false, outcome: verification.attemptsLeft === 0 ? 'locked' : 'rejected', attemptsLeft: verification.attemptsLeft };
  };

  setHandler(verificationStateQuery, () => ({ ...verification }));
  setHandler(
    verifyEmailUpdate,
    ({ code }) => {
      countMessage();
      return tryCode(code);
    },
    {
      validator: (arg) => {
        if (typeof arg?.code !== 'string' || !codePattern.test(arg.code)) throw new Error('code must be 4 to 12 letters or digits');
        if (verification.phase !== 'waiting') throw new Error(`registration is not waiting for a code (${verification.phase})`);
        if (flooded) throw new Error(`registration has taken its ${MAX_MESSAGES} messages`);
      },
    },
  );
  // A signal has no caller to answer: a rejected handler would fail (or cancel) the whole workflow, so
  // whatever goes wrong with the check is logged and the registration keeps waiting.
  setHandler(verifyEmailSignal, async (arg) => {
    countMessage();
    if (typeof arg?.code !== 'string' || !codePattern.test(arg.code)) return;
    try {
      await tryCode(arg.code);
    } catch (err) {
      log.warn('verifyEmail signal: the code could not be checked', { userId, error: describeFailure(err).message });
    }
  });
  setHandler(resendVerificationSignal, () => {
    countMessage();
    if (verification.phase === 'waiting') resendRequested = true;
  });

  // The first code is a forward step: if it cannot be sent the registration is undone, so it retries
  // under the steps' policy, as long as any forward step (src/shared/deadlines.ts counts it so), not the
  // few attempts of best-effort mail. A resend is optional and keeps the mail policy.
  const sendCode = (sequence: number, proxy: typeof mailActivities = mailActivities) =>
    activity(proxy.sendVerificationEmail, { userId, email, name, sequence });

  const saga = new Saga({ compensationRetry, onCompensationFailure: 'await-operator', onCompensationFailed: alertOperator('registration') });
  try {
    return await saga.run(async () => {
      try {
        return await register();
      } catch (err) {
        if (isCancellation(err)) failureReason ??= CANCELLED_REASON;
        throw err;
      } finally {
        // Stop taking codes before the saga unwinds, not after.
        if (verification.phase === 'waiting' || verification.phase === 'sending') verification.phase = 'closed';
      }
    });
  } finally {
    if (verification.phase === 'waiting' || verification.phase === 'sending') verification.phase = 'closed';
  }

  async function register(): Promise<RegistrationResult> {
    setCurrentDetails('Creating account');
    await saga.step({
      name: 'createUser',
      summary: `Create account ${userId}`,
      run: activity(stepActivities.createUser, { userId, email, name }),
      compensate: { name: 'deleteUser', summary: `Delete account ${userId}`, run: activity(stepActivities.deleteUser, { userId }) },
    });

    setCurrentDetails('Sending verification e-mail');
    verification.sends = 1;
    lastSentAt = Date.now();
    await saga.step({
      name: 'sendVerification',
      summary: `E-mail verification code to user ${userId}`,
      run: sendCode(1, stepActivities),
      compensate: {
        name: 'sendRegistrationFailedEmail',
        summary: `E-mail user ${userId} that the registration failed`,
        // Best effort: a bounced or failing error e-mail must not keep the account from being deleted.
        run: async (opts) => {
          const reason = failureReason ?? saga.state.failure?.message ?? CANCELLED_REASON;
          try {
            return await mailActivities.sendRegistrationFailedEmail.executeWithOptions({ summary: opts.summary }, [{ userId, email, name, reason }]);
          } catch {
            return { messageId: undefined };
          }
        },
      },
    });

    verification.phase = 'waiting';
    const deadlineMs = Date.now() + input.verificationTimeout;
    verification.deadline = new Date(deadlineMs).toISOString();
    setCurrentDetails(`Waiting up to ${timeout} for e-mail verification`);
    const deadline = new CancellationScope();
    const timer = deadline
      .run(() => sleep(input.verificationTimeout, { summary: `Waiting up to ${timeout} for e-mail verification` }))
      .then(
        () => {
          if (verification.phase === 'waiting') verification.phase = 'expired';
        },
        () => undefined,
      );

    while (verification.phase === 'waiting') {
      await condition(() => verification.phase !== 'waiting' || resendRequested || flooded);
      if (flooded && verification.phase === 'waiting') verification.phase = 'flooded';
      if (!resendRequested || verification.phase !== 'waiting') continue;
      resendRequested = false;
      if (verification.sends >= MAX_VERIFICATION_SENDS || Date.now() - lastSentAt < RESEND_INTERVAL_MS) {
        verification.resendsRefused += 1;
        continue;
      }
      verification.sends += 1;
      lastSentAt = Date.now();
      await saga.optionalStep({ name: `resendVerification#${verification.sends}`, summary: `E-mail a new verification code to user ${userId}`, run: sendCode(verification.sends) });
    }
    deadline.cancel();
    await timer;

    // Read through the declared type: handlers change the phase while the loop awaits.
    const outcome = (verification as VerificationState).phase;
    if (outcome === 'locked') {
      failureReason = addressLocked ? 'too many wrong codes were entered for this address; it is locked' : `the verification code was wrong ${MAX_CODE_ATTEMPTS} times`;
      throw businessFailure(FailureType.VerificationFailed, `E-mail address not verified: ${failureReason}`);
    }
    if (outcome === 'flooded') {
      failureReason = `more than ${MAX_MESSAGES} verification requests were made`;
      throw businessFailure(FailureType.VerificationFailed, `E-mail address not verified: ${failureReason}`);
    }
    if (outcome === 'expired') {
      failureReason = `the address was not verified within ${timeout}`;
      throw businessFailure(FailureType.VerificationExpired, `E-mail address not verified: ${failureReason}`);
    }

    setCurrentDetails('Activating account');
    await saga.step({ name: 'activateUser', summary: `Activate account ${userId}`, run: activity(stepActivities.activateUser, { userId }) });
    const welcome = await CancellationScope.nonCancellable(() =>
      saga.optionalStep({ name: 'sendWelcome', summary: `E-mail welcome to user ${userId}`, run: activity(mailActivities.sendWelcomeEmail, { userId, email, name }) }),
    );
    setCurrentDetails('Registered');
    return { userId, status: 'ACTIVE', welcomeSent: welcome.ok };
  }
}
