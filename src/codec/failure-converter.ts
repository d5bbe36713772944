import { DefaultFailureConverter } from '@temporalio/common';

// Loaded by path (`DataConverter.failureConverterPath`) in the worker, the client and the workflow
// sandbox. Failure messages and stack traces are plain text by default and may quote an address or
// a name; with this converter they travel as an encoded payload, which the codec then encrypts.

/** The failure converter used when the payload codec is on. */
export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
