// Ties a Gateway to the app: starts it, decorates `app.ipc` with its public API, and on close drains
// it (in-flight requests answered, then every socket closed with 1001) before the server stops.
import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import type { IpcApi } from '../src/gateway/api.js'
import type { Gateway } from '../src/gateway/gateway.js'

/** Where the app keeps its Gateway: internal, for the routes' registration and for tests. */
export const kGateway = Symbol('fastify-ipc.gateway')

declare module 'fastify' {
  interface FastifyInstance {
    ipc: IpcApi
    [kGateway]: Gateway
  }
}

export async function attachGateway (fastify: FastifyInstance, gateway: Gateway): Promise<void> {
  fastify.decorate('ipc', gateway.api)
  fastify.decorate(kGateway, gateway)
  // While closing, Fastify answers an upgrade with 503 itself, without the hook that would end its
  // socket, and that half-open socket would hold server.close() for good: end it once answered.
  const endRefused = (_request: unknown, socket: Socket): void => { socket.destroySoon() }
  fastify.addHook('preClose', async () => {
    fastify.server.on('upgrade', endRefused)
    await gateway.drain(gateway.options.shutdownTimeoutMs)
  })
  fastify.addHook('onClose', async () => {
    fastify.server.off('upgrade', endRefused)
    await gateway.close()
  })
  // After the hooks: a start that fails still leaves the broker's connections for onClose to end.
  await gateway.start()
}
