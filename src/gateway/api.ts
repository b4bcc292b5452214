// `app.ipc`: what a host app uses, and all it sees of the gateway.
import type { OutgoingEvent, PublishResult } from '../broker/types.js'
import type { DisconnectBody, RevokeBody, SubscribeBody } from '../protocol/control.js'
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
  publish (event: OutgoingEvent): Promise<PublishResult>
  /**
   * Server-side control (docs/protocol.md §10), on whichever node the connections are; idempotent,
   * and an unknown user, connection or room is no error. Each takes `userId` (every connection of
   * the user) or `connectionId` (one); a bad argument throws -32602 with the reason.
   */
  /** puts the connections into `room`, as rpc.join would (no permission check) */
  subscribe (target: SubscribeBody): Promise<void>
  /** takes the connections out of `room`, as rpc.leave would */
  unsubscribe (target: SubscribeBody): Promise<void>
  /** closes the connections with `code` (1000, 1008 or 3000-4999; 4000 by default) and `reason` */
  disconnect (target: DisconnectBody): Promise<void>
  /**
   * Refuses a user's tokens issued before `before` (now by default), or one token by `jti`, on
   * every node until `expiresAt` (now + 24 h by default); their connections are closed with 4003.
   */
  revoke (revocation: RevokeBody): Promise<void>
  /** the OpenRPC document of every method, local and remote, with events under x-events */
  openrpc (): Record<string, unknown>
}
