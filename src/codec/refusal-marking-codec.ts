import type { Payload, PayloadCodec } from '@temporalio/common';
import { REFUSED_PAYLOAD_KEY } from '../shared/refused-payload';
import { UnencryptedPayloadError } from './aes-gcm-codec';

// The worker's side of strict decoding. A codec error in a worker fails the workflow task, which the
// server retries for ever: a saga started by a client without the keys would stay RUNNING with nobody
// told. The worker decodes through this wrapper instead, which hands the workflow a marker in place of
// each refused payload, and the workflow fails at its input check with `UnencryptedPayload`
// (src/shared/refused-payload.ts). Clients keep the plain codec: to them a refusal stays an error.

/** JSON of the marker value, as the default payload converter reads it. */
const MARKER: Payload = {
  metadata: { encoding: new TextEncoder().encode('json/plain') },
  data: new TextEncoder().encode(JSON.stringify({ [REFUSED_PAYLOAD_KEY]: true })),
};

/** Wraps a strict codec: a payload it refuses as unencrypted decodes to the refusal marker; every other error stays. */
export class RefusalMarkingCodec implements PayloadCodec {
  constructor(private readonly inner: PayloadCodec) {}

  encode(payloads: Payload[]): Promise<Payload[]> {
    return this.inner.encode(payloads);
  }

  decode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.all(
      payloads.map(async (payload) => {
        try {
          const [decoded] = await this.inner.decode([payload]);
          return decoded!;
        } catch (err) {
          if (err instanceof UnencryptedPayloadError) return MARKER;
          throw err;
        }
      }),
    );
  }
}
