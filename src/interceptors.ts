// Interceptors: functions around a call (docs/protocol.md §3), shared by the gateway's `app.ipc.use`
// and the worker's `worker.use`. The first registered is the outermost: each decides whether and
// when the next one, and at last the call itself, runs (an onion, like Koa's middleware).

/** Runs the rest of the chain (then the call) and resolves with its result. */
export type Next = () => Promise<unknown>

/**
 * Wraps a call. What it returns is the answer; returning nothing after `next()` keeps the answer
 * `next()` gave (so `await next()` without a `return` changes nothing). What it throws is answered
 * like a handler's error.
 */
export type Interceptor<C> = (call: C, next: Next) => unknown

const twice = (): Error => new Error('interceptor called next() twice')

/** Runs `run` through `chain`, outermost first. */
export async function intercept<C> (chain: ReadonlyArray<Interceptor<C>>, call: C, run: () => unknown): Promise<unknown> {
  const step = async (i: number): Promise<unknown> => {
    if (i === chain.length) return await run()
    let called = false
    let inner: unknown
    const out = await chain[i](call, async () => {
      if (called) throw twice()
      called = true
      inner = await step(i + 1)
      return inner
    })
    return out === undefined && called ? inner : out
  }
  return await step(0)
}
