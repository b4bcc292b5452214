// The dispatcher that answers every frame of the websocket route.
import fp from 'fastify-plugin'
import { Builtins } from '../src/gateway/builtins.js'
import { Dispatcher } from '../src/gateway/dispatcher.js'
import { version } from '../src/version.js'

declare module 'fastify' {
  interface FastifyInstance {
    ipcDispatcher: Dispatcher
  }
}

export default fp(async function rpc (fastify) {
  const { ipcConfig: options, ipcAuth: auth, ipcHub: hub, ipcBroker: broker, ipcMetrics: metrics, ipc } = fastify
  const builtins = new Builtins({ options, auth, hub, broker, registry: ipc.registry, version })
  fastify.decorate('ipcDispatcher', new Dispatcher({
    options, registry: ipc.registry, builtins, hub, broker, metrics, log: fastify.log, publish: ipc.publish
  }))
}, { name: 'ipc-rpc', dependencies: ['ipc-hub', 'ipc-auth'] })
