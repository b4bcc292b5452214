// The gateway's Redis connections: the command connection (made from a URL or options, or the
// host's own client) and the duplicates each blocking loop needs. None of them queues commands
// while Redis is down: a command either goes out now or fails now, so callers can fail fast (a
// Cluster's queue while it connects: see clusterQueue).
import { setTimeout as sleep } from 'node:timers/promises'
import { type Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis'
import { withTimeout } from '../timeout.js'
import { clusterFromUrl } from './cluster-url.js'

export type RedisClient = Redis | Cluster

// Capped backoff: reconnect quickly after a blip, at most every 2 s during an outage.
const retryStrategy = (times: number): number => Math.min(50 * 2 ** Math.min(times, 6), 2000)

const failFast: RedisOptions = {
  enableOfflineQueue: false,
  // 0: a command in flight when the connection drops is rejected at once, never resent later
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  retryStrategy,
  connectTimeout: 5000,
  // on close, a socket that is already dead would otherwise keep the process alive 2 s more
  disconnectTimeout: 500,
  // Behind Sentinel: leave the old master as soon as a Sentinel announces the new one, not when the
  // old one is demoted (until then it takes writes that its demotion throws away)
  failoverDetector: true
}

// A Cluster sends CLUSTER SLOTS and its ready check (CLUSTER INFO) to nodes whose connections are
// still being made: without offline queues, on the cluster and on its nodes, those fail and the
// cluster keeps reconnecting (most starts against a local three-node cluster never became ready).
// So a Cluster queues while it connects; the breaker (redis.ts) keeps calls, publishes and presence
// from issuing commands while it is down, and its probe is bounded by a timeout.
const clusterQueue = { enableOfflineQueue: true }

export interface Link {
  client: RedisClient
  /** whether we made the client, and so must close it */
  owned: boolean
}

/**
 * The command connection from the `redis` option: a URL, ioredis options, or a client (borrowed);
 * with `cluster`, a URL of one node of a Redis Cluster.
 */
export function connect (option: unknown, name: string, cluster = false): Link {
  if (isClient(option)) return { client: option, owned: false }
  if (cluster) {
    const client = clusterFromUrl(option as string, { ...clusterQueue, clusterRetryStrategy: retryStrategy, enableAutoPipelining: true, redisOptions: { ...failFast, ...clusterQueue, connectionName: name } })
    return { client, owned: true }
  }
  const base: RedisOptions = { ...failFast, enableAutoPipelining: true, connectionName: name }
  const client = typeof option === 'string'
    ? new Redis(option, base)
    : new Redis({ ...(option as RedisOptions), ...base })
  return { client, owned: true }
}

/** A connection of its own for one blocking loop, with the command connection's address and auth. */
export function duplicate (client: RedisClient, name: string, extra: Partial<RedisOptions> = {}, clusterExtra: Partial<ClusterOptions> = {}): RedisClient {
  const own: RedisOptions = { ...failFast, enableAutoPipelining: false, lazyConnect: false, connectionName: name, ...extra }
  if (client.isCluster) {
    // ioredis replaces `redisOptions` as a whole: the nodes' credentials and TLS are carried over.
    // Auto-pipelining is a Cluster's own option too: left on, queued blocking reads would be one
    // pipeline, answered only when its last read is.
    const cluster = client as Cluster
    return cluster.duplicate([], { ...clusterQueue, ...clusterExtra, enableAutoPipelining: false, clusterRetryStrategy: retryStrategy, redisOptions: { ...cluster.options.redisOptions, ...own, ...clusterQueue } } satisfies ClusterOptions)
  }
  return (client as Redis).duplicate(own)
}

function isClient (option: unknown): option is RedisClient {
  const o = option as { duplicate?: unknown, xadd?: unknown } | null
  return o !== null && typeof o === 'object' && typeof o.duplicate === 'function' && typeof o.xadd === 'function'
}

/** QUIT, or a hard disconnect when Redis does not answer within `ms` (or is down). */
export async function close (client: RedisClient, ms = 1000): Promise<void> {
  if (client.status === 'ready') await withTimeout(client.quit(), ms, noAnswer).catch(() => undefined)
  client.disconnect()
}

/**
 * Resolves when the client is ready or after `ms`. Not sooner when it has ended: a loop waiting on a
 * connection that ioredis gave up on (see revive) would otherwise spin and starve every timer.
 */
export async function ready (client: RedisClient, ms: number): Promise<void> {
  if (client.status === 'ready') return
  await new Promise<void>(resolve => {
    const done = (): void => {
      clearTimeout(timer)
      client.off('ready', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    client.once('ready', done)
  })
}

// ioredis gives a connection up for good (status `end`) when what fails is its connector rather than
// the connection. Behind Sentinel, a +switch-master seen by the failover detector of the connection
// before cancels the reconnect under way (its lookup of the master throws "Connection is closed."),
// and the client stays down while the new master is fine: seen in the master-crash test, 1 run in 10.
const REVIVE_MS = 1000

/** Connects `client` again, after a pause, whenever it ends without `closing()` saying we ended it. */
export function revive (client: RedisClient, closing: () => boolean, say: (message: string) => void): void {
  client.on('end', () => {
    if (closing()) return
    say(`ioredis gave the connection up: connecting again in ${REVIVE_MS} ms`)
    setTimeout(() => {
      if (!closing() && client.status === 'end') client.connect().catch(() => undefined)
    }, REVIVE_MS).unref()
  })
}

/**
 * Runs `step` over and over on a blocking connection until `stopped()`: waits for the connection
 * while it is down and backs off after an error: an outage costs no busy loop and no log flood.
 */
export async function loop (client: RedisClient, stopped: () => boolean, step: () => Promise<void>, onError: (err: unknown) => void): Promise<void> {
  let failing = false
  while (!stopped()) {
    if (client.status !== 'ready') {
      await ready(client, 1000)
      continue
    }
    try {
      await step()
      failing = false
    } catch (err) {
      if (stopped()) return
      // a dropped connection is the breaker's news; report only errors on a live one, once
      if (!failing && client.status === 'ready') onError(err)
      failing = true
      await sleep(250)
    }
  }
}

/** What a Redis command that did not answer in time rejects with (see withTimeout). */
export const noAnswer = (ms: number): Error => new Error(`Redis did not answer within ${ms} ms`)
