// The public API a host app uses: app.ipc.method(), app.ipc.event(), app.ipc.publish().
import fp from 'fastify-plugin'
import type { OutgoingEvent } from '../src/broker/types.js'
import { invalidParams } from '../src/protocol/errors.js'
import { validationErrors, validators } from '../src/protocol/frames.js'
import { type EventSpec, type Handler, Registry } from '../src/gateway/registry.js'
import type { MethodOptions } from '../src/protocol/methods.js'

export interface IpcApi {
  readonly registry: Registry
  /** defines an in-process method */
  method<P = any, R = unknown> (name: string, options: MethodOptions, handler: Handler<P, R>): void
  /** declares an event and its payload schema, for rpc.discover and generated clients */
  event (name: string, spec?: EventSpec): void
  /** sends an event to `user:<id>`, `room:<name>`, `conn:<id>` or `all`, on every node */
  publish (event: OutgoingEvent): Promise<{ offset?: string }>
}

declare module 'fastify' {
  interface FastifyInstance {
    ipc: IpcApi
  }
}

export default fp(async function methods (fastify) {
  const broker = fastify.ipcBroker
  const registry = new Registry(() => broker.remoteMethods())
  const api: IpcApi = {
    registry,
    method: (name, options, handler) => registry.define(name, options, handler as Handler),
    event: (name, spec) => registry.event(name, spec),
    async publish (event) {
      if (!validators.publish.Check(event)) throw invalidParams('Invalid event', { errors: validationErrors(validators.publish, event) })
      return await broker.publish(event)
    }
  }
  fastify.decorate('ipc', api)
}, { name: 'ipc-methods', dependencies: ['ipc-broker'] })
