// The Restate SDK 1.17 calls `Promise.withResolvers` (Node 22); the project runs on Node 20. The
// same behaviour, defined only where it is missing, before the SDK loads.

interface WithResolvers {
  withResolvers?: <T>() => { promise: Promise<T>; resolve: (value: T | PromiseLike<T>) => void; reject: (reason?: unknown) => void };
}

const PromiseCtor = Promise as unknown as WithResolvers;
PromiseCtor.withResolvers ??= <T>() => {
  let resolve!: (value: T | PromiseLike<T>) => void;
  let reject!: (reason?: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
};
