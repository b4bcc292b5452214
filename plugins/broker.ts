// The broker: in-memory by default, Redis when the `redis` option (or REDIS_URL) is set.
import fp from 'fastify-plugin'
import { MemoryBroker } from '../src/broker/memory.js'
import type { Broker } from '../src/broker/types.js'

declare module 'fastify' {
  interface FastifyInstance {
    ipcBroker: Broker
  }
}

export default fp(async function broker (fastify) {
  const { nodeId, redis } = fastify.ipcConfig
  if (redis !== undefined) throw new Error('fastify-ipc: the Redis broker is not available in this build')
  const broker: Broker = new MemoryBroker(nodeId)
  fastify.decorate('ipcBroker', broker)
  fastify.addHook('onClose', async () => await broker.close())
}, { name: 'ipc-broker', dependencies: ['ipc-config'] })
