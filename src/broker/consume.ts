// A durable consumer read for the life of a process: JetStream's `consume()` already rides out a
// reconnect, and should its iterator still end, or the first pull fail while the broker is down, the
// loop asks again after a pause, so a broker restart never leaves a process that silently stopped reading.
import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';

/** A consumer being read; `stop()` closes it and waits for the message in hand. */
export interface ConsumeLoop {
  /** Resolves once the first pull is open (or failed, and will be tried again). */
  started: Promise<void>;
  stop(): Promise<void>;
}

/** Reads `durable` on `stream`, one message at a time through `handle`, until stopped. */
export function consumeForever(
  js: JetStreamClient,
  stream: string,
  durable: string,
  handle: (msg: JsMsg) => Promise<void>,
  options: { maxMessages?: number; retryMs?: number; onError?: (err: unknown) => void } = {},
): ConsumeLoop {
  let stopping = false;
  let close: (() => Promise<void>) | undefined;
  let markStarted = () => {};
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  const loop = (async () => {
    while (!stopping) {
      try {
        const messages = await (await js.consumers.get(stream, durable)).consume({ max_messages: options.maxMessages ?? 16 });
        close = async () => {
          await messages.close();
        };
        markStarted();
        if (stopping) await messages.close();
        for await (const msg of messages) await handle(msg);
      } catch (err) {
        markStarted();
        options.onError?.(err);
      }
      if (!stopping) await new Promise((r) => setTimeout(r, options.retryMs ?? 1_000));
    }
  })();
  return {
    started,
    async stop() {
      stopping = true;
      await close?.();
      await loop;
    },
  };
}
