import type { CommandSpec } from '../command';
import { count, list, status } from './inspect';
import { cancel, markCompensated, resend, retryCompensation, skipCompensation, verify } from './operate';
import { outbox } from './outbox';
import { reconcile, terminate } from './reconcile';
import { order, register } from './start';

/** Every command of the client, in the order the help lists them. */
export const commands: readonly CommandSpec[] = [order, register, verify, resend, status, cancel, terminate, list, count, retryCompensation, skipCompensation, markCompensated, reconcile, outbox];
