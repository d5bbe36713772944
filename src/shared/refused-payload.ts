// What a worker that requires encryption hands the workflow in place of a payload it refused: the
// codec runs before the workflow, where a refusal can only fail the workflow task, again and again;
// the workflow itself can fail for good, with a type the caller can read. Safe to import from
// workflow code.
import { ApplicationFailure } from '@temporalio/common';

/** The failure type of a saga started with an unencrypted input on a worker that requires encryption. */
export const UNENCRYPTED_PAYLOAD_FAILURE = 'UnencryptedPayload';

/** The one key of the value that stands for a refused payload. */
export const REFUSED_PAYLOAD_KEY = 'sagaRefusedUnencryptedPayload';

/** Whether `value` stands for a payload the worker's codec refused as unencrypted. */
export function isRefusedPayload(value: unknown): boolean {
  return typeof value === 'object' && value !== null && (value as Record<string, unknown>)[REFUSED_PAYLOAD_KEY] === true;
}

/** The non-retryable failure of a saga whose input arrived unencrypted. */
export function unencryptedPayloadFailure(what: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    `The ${what} input arrived unencrypted, and this namespace's workers require encrypted payloads: start it from a client with SAGA_CODEC_KEYS or --codec-endpoint`,
    UNENCRYPTED_PAYLOAD_FAILURE,
  );
}
