// `app.ipc`: what a host app uses, and all it sees of the gateway.
import type { OutgoingEvent } from '../broker/types.js'
import type { MethodOptions } from '../protocol/methods.js'
import type { IpcInterceptor } from './interceptors.js'
import type { EventSpec, Handler } from './registry.js'

export interface IpcApi {
  /** this node's id, as callers see it in `caller.node` */
  readonly nodeId: string
  /**
   * Adds an interceptor around every call of a method, in-process or remote (not the `rpc.*`
   * built-ins), after the request's checks; they run in the order they were added (docs/protocol.md §3).
   */
  use (interceptor: IpcInterceptor): void
  /** defines an in-process method */
  method<P = any, R = unknown> (name: string, options: MethodOptions, handler: Handler<P, R>): void
  /** declares an event and its payload schema, for rpc.discover and generated clients */
  event (name: string, spec?: EventSpec): void
  /** sends an event to `user:<id>`, `room:<name>`, `conn:<id>` or `all`, on every node */
  publish (event: OutgoingEvent): Promise<{ offset?: string }>
  /** the OpenRPC document of every method, local and remote, with events under x-events */
  openrpc (): Record<string, unknown>
}
