// The one timeout helper: a promise that loses a race against a timer rejects with the caller's error.

/**
 * Settles as `p` does, or rejects with `error(ms)` when `p` has not settled within `ms`. `error` is
 * a function of `ms` so callers pass a module-level one, with nothing made per call.
 */
export async function withTimeout<T> (p: PromiseLike<T>, ms: number, error: (ms: number) => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(error(ms)), ms)
  })
  try {
    return await Promise.race([p, timeout])
  } finally {
    clearTimeout(timer)
  }
}
