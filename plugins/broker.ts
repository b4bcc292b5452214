// The broker: in-memory by default, Redis when the `redis` option (or REDIS_URL) is set.
import { randomUUID } from 'node:crypto'
import fp from 'fastify-plugin'
import { MemoryBroker } from '../src/broker/memory.js'
import { RedisBroker } from '../src/broker/redis.js'
import type { Broker } from '../src/broker/types.js'
import { InvalidOptionError } from '../src/config.js'

declare module 'fastify' {
  interface FastifyInstance {
    ipcBroker: Broker
  }
}

export default fp(async function broker (fastify) {
  const { nodeId = randomUUID(), redis, redisCluster, prefix, presenceTtlMs } = fastify.ipcConfig
  if (redis !== undefined && (redis === null || (typeof redis !== 'string' && typeof redis !== 'object'))) {
    throw new InvalidOptionError('option "redis" must be a redis:// URL, ioredis options, or an ioredis client')
  }
  if (redisCluster && typeof redis !== 'string') {
    throw new InvalidOptionError('option "redisCluster" needs "redis" as the redis:// URL of one of the cluster\'s nodes')
  }
  const broker: Broker = redis === undefined
    ? new MemoryBroker(nodeId)
    : new RedisBroker({ redis, cluster: redisCluster, nodeId, prefix, presenceTtlMs, log: fastify.log.child({ broker: 'redis' }), registry: fastify.ipcMetrics.registry })
  fastify.decorate('ipcBroker', broker)
  fastify.addHook('onClose', async () => await broker.close())
}, { name: 'ipc-broker', dependencies: ['ipc-config', 'ipc-metrics'] })
