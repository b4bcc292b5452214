// Redis connections the worker side owns or borrows, and the reply shapes ioredis gives back.
import { type Cluster, Redis, type RedisOptions } from 'ioredis'
import { clusterFromUrl } from '../broker/cluster-url.js'
import { revive } from '../broker/redis-link.js'
import type { Entry } from '../broker/stream-entries.js'
import type { WorkerLogger } from './log.js'

/** A connection to one Redis server, or to a Redis Cluster (every command the worker sends touches one key). */
export type WorkerRedis = Redis | Cluster

/** A URL, ioredis options, or a client of your own, `Redis` or `Cluster` (never quit by us). */
export type RedisInput = string | RedisOptions | WorkerRedis

export interface Connection {
  client: WorkerRedis
  /** whether we made it, and so must close it */
  owned: boolean
}

/** `cluster`: `input` is the URL of one node of a Redis Cluster. */
export function connect (input: RedisInput, log: WorkerLogger, name: string, cluster = false): Connection {
  if (isClient(input)) return { client: input, owned: false }
  if (cluster && typeof input !== 'string') throw new Error(`fastify-ipc ${name}: cluster needs redis as the redis:// URL of one of the cluster's nodes`)
  // Behind Sentinel, leave the old master as soon as a Sentinel announces the new one: a gateway does,
  // and a worker still reading the old master would leave the new one's requests unanswered
  const client = cluster ? clusterFromUrl(input as string) : typeof input === 'string' ? new Redis(input) : new Redis({ failoverDetector: true, ...input })
  return { client: watch(client, log, name), owned: true }
}

/** A connection of its own for a blocking command, closed by the caller; `connectionName` shows in CLIENT LIST. */
export function duplicate (client: WorkerRedis, log: WorkerLogger, name: string, connectionName: string): WorkerRedis {
  const copy = client.isCluster
    ? (client as Cluster).duplicate([], { redisOptions: { ...(client as Cluster).options.redisOptions, connectionName } })
    : (client as Redis).duplicate({ connectionName })
  return watch(copy, log, name)
}

/** the connections close() is ending: the others are connected again if ioredis gives them up */
const closing = new WeakSet<WorkerRedis>()

// ioredis reconnects by itself; say so once per state change, not once per retry.
function watch<C extends WorkerRedis> (client: C, log: WorkerLogger, name: string): C {
  revive(client, () => closing.has(client), message => log.warn(`${name}: ${message}`))
  let up = true
  client.on('error', (err: Error) => {
    if (!up) return
    up = false
    log.warn({ err: err.message }, `${name}: Redis unreachable, retrying`)
  })
  client.on('ready', () => {
    if (up) return
    up = true
    log.info(`${name}: Redis reachable again`)
  })
  return client
}

function isClient (input: RedisInput): input is WorkerRedis {
  return typeof (input as Redis).duplicate === 'function'
}

/** A hard disconnect, for good: what its commands were waiting for fails now. */
export function drop (client: WorkerRedis): void {
  closing.add(client)
  client.disconnect()
}

/** QUIT, or a hard disconnect when Redis does not answer within `ms`. */
export async function close (client: WorkerRedis, ms = 2000): Promise<void> {
  closing.add(client)
  if (client.status === 'end') return
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    client.quit().catch(() => undefined),
    new Promise(resolve => { timer = setTimeout(resolve, ms) })
  ])
  clearTimeout(timer)
  client.disconnect()
}

/** An entry as `callBuffer` gives it. */
export type RawEntry = [Buffer | string, Array<Buffer | string> | null]

// The fields the gateway writes (docs/protocol.md §9), as bytes: matched without decoding them.
const FIELD_NAMES = ['v', 'id', 'method', 'params', 'caller', 'reply', 'deadline'].map(name => ({ name, bytes: Buffer.from(name) }))

function fieldName (b: Buffer): string {
  next: for (const { name, bytes } of FIELD_NAMES) {
    if (b.length !== bytes.length) continue
    for (let i = 0; i < bytes.length; i++) if (b[i] !== bytes[i]) continue next
    return name
  }
  return b.toString()
}

const text = (b: Buffer | string): string => typeof b === 'string' ? b : b.toString()

/**
 * Entries read with `callBuffer`, as strings. ioredis 5 decodes every reply to Buffers and then
 * converts each one; here the protocol's field names are matched by their bytes instead, and only
 * the values are decoded.
 */
export function textEntries (entries: RawEntry[]): Entry[] {
  const out = new Array<Entry>(entries.length)
  for (let i = 0; i < entries.length; i++) {
    const [id, fields] = entries[i]
    let strings: string[] | null = null
    if (fields !== null) {
      strings = new Array<string>(fields.length)
      for (let j = 0; j < fields.length; j++) {
        const f = fields[j]
        strings[j] = j % 2 === 1 || typeof f === 'string' ? text(f) : fieldName(f)
      }
    }
    out[i] = [text(id), strings]
  }
  return out
}
