// The broker the options ask for: in-memory by default, Redis when `redis` is set.
import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { Registry } from 'prom-client'
import type { ResolvedOptions } from '../config.js'
import { InvalidOptionError } from '../errors.js'
import { MemoryBroker } from './memory.js'
import { RedisBroker } from './redis.js'
import type { Broker } from './types.js'

type BrokerOptions = Pick<ResolvedOptions, 'nodeId' | 'redis' | 'redisCluster' | 'prefix' | 'presenceTtlMs' | 'historySize' | 'historyTtlMs' | 'historyRooms' | 'historyUsers' | 'presenceEventRooms'> &
  Partial<Pick<ResolvedOptions, 'requestLogStream' | 'requestLogStreamLength'>>

/** `log` and `registry` (the app's Prometheus registry) serve the Redis broker. */
export function createBroker (options: BrokerOptions, log: FastifyBaseLogger, registry: Registry): Broker {
  const { nodeId = randomUUID(), redis, redisCluster, prefix, presenceTtlMs, presenceEventRooms, requestLogStream = false, requestLogStreamLength = 10000 } = options
  const history = { size: options.historySize, ttlMs: options.historyTtlMs, rooms: options.historyRooms, users: options.historyUsers }
  if (redis === undefined) return new MemoryBroker(nodeId, history, { presenceEventRooms })
  if (redis === null || (typeof redis !== 'string' && typeof redis !== 'object')) {
    throw new InvalidOptionError('option "redis" must be a redis:// URL, ioredis options, or an ioredis client')
  }
  if (redisCluster && typeof redis !== 'string') {
    throw new InvalidOptionError('option "redisCluster" needs "redis" as the redis:// URL of one of the cluster\'s nodes')
  }
  const requestLogLength = requestLogStream ? requestLogStreamLength : undefined
  return new RedisBroker({ redis, cluster: redisCluster, nodeId, prefix, presenceTtlMs, presenceEventRooms, history, requestLogLength, log: log.child({ broker: 'redis' }), registry })
}
