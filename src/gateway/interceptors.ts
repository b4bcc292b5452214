// The gateway's interceptor chain (`app.ipc.use`, docs/protocol.md §3): around every call of a
// method, in-process or remote, after the checks of the request and before the call. Built-ins
// (`rpc.*`) are not intercepted: they are the connection's own machinery (auth, keepalive, rooms),
// run before there may be an identity, and have hooks of their own (canJoin, onConnect).
import type { Identity } from '../config.js'
import { InvalidOptionError } from '../errors.js'
import { type Interceptor, intercept } from '../interceptors.js'
import type { Caller } from '../protocol/frames.js'

/** What an interceptor sees of a call. */
export interface IpcCall {
  /** the method's name */
  readonly method: string
  /** the params by name, already validated against the method's schema (read them, do not change them) */
  readonly params: unknown
  /** who calls; null for an anonymous call of a public method */
  readonly identity: Identity | null
  /** the caller as a worker sees it: userId, connectionId, node, roles, claims */
  readonly caller: Caller
  readonly connectionId: string
  /** true when a worker serves the method, false for an in-process one */
  readonly remote: boolean
  /** epoch ms after which the client is answered -32008 */
  readonly deadline: number
  /** the request's idempotencyKey (docs/protocol.md §3): a re-send is answered inside the chain */
  readonly idempotencyKey?: string
}

export type IpcInterceptor = Interceptor<IpcCall>

export class Interceptors {
  private readonly chain: IpcInterceptor[] = []

  /** Adds one, innermost so far: they run in the order they were added. */
  add (fn: IpcInterceptor): void {
    if (typeof fn !== 'function') throw new InvalidOptionError('use() takes a function (call, next) => ...')
    this.chain.push(fn)
  }

  /** none added: the dispatcher calls straight through */
  get empty (): boolean {
    return this.chain.length === 0
  }

  async run (call: IpcCall, run: () => unknown): Promise<unknown> {
    return await intercept(this.chain, call, run)
  }
}
