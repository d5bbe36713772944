// A durable consumer read for the life of a process: JetStream's `consume()` already rides out a
// reconnect, and should its iterator still end, or the first pull fail while the broker is down, the
// loop asks again after a pause, so a broker restart never leaves a process that silently stopped reading.
// Messages are handled concurrently, as many as one pull holds: a message waiting in the client's
// buffer behind a slow one would otherwise see its ack wait run out and be delivered again.
import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';

/** A consumer being read; `stop()` closes it and waits for the messages in hand. */
export interface ConsumeLoop {
  /** Resolves once the first pull is open (or failed, and will be tried again). */
  started: Promise<void>;
  stop(): Promise<void>;
}

/** Reads `durable` on `stream` until stopped, at most `maxMessages` messages in `handle` at once. */
export function consumeForever(
  js: JetStreamClient,
  stream: string,
  durable: string,
  handle: (msg: JsMsg) => Promise<void>,
  options: { maxMessages?: number; retryMs?: number; onError?: (err: unknown) => void } = {},
): ConsumeLoop {
  const limit = options.maxMessages ?? 16;
  const inHand = new Set<Promise<void>>();
  let stopping = false;
  let close: (() => Promise<void>) | undefined;
  let markStarted = () => {};
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  const loop = (async () => {
    while (!stopping) {
      try {
        const messages = await (await js.consumers.get(stream, durable)).consume({ max_messages: limit });
        close = async () => {
          await messages.close();
        };
        markStarted();
        if (stopping) await messages.close();
        for await (const msg of messages) {
          const handled: Promise<void> = handle(msg)
            .catch((err: unknown) => options.onError?.(err))
            .finally(() => inHand.delete(handled));
          inHand.add(handled);
          if (inHand.size >= limit) await Promise.race(inHand);
        }
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
      await Promise.all(inHand);
    },
  };
}
