// Redis connections the worker side owns or borrows, and the reply shapes ioredis gives back.
import { Redis, type RedisOptions } from 'ioredis'
import type { WorkerLogger } from './log.js'

/** A URL, ioredis options, or a client of your own (never quit by us). */
export type RedisInput = string | RedisOptions | Redis

export interface Connection {
  client: Redis
  /** whether we made it, and so must close it */
  owned: boolean
}

export function connect (input: RedisInput, log: WorkerLogger, name: string): Connection {
  if (isClient(input)) return { client: input, owned: false }
  const client = typeof input === 'string' ? new Redis(input) : new Redis(input)
  return { client: watch(client, log, name), owned: true }
}

/** A connection of its own for a blocking command, closed by the caller. */
export function duplicate (client: Redis, log: WorkerLogger, name: string): Redis {
  return watch(client.duplicate(), log, name)
}

// ioredis reconnects by itself; say so once per state change, not once per retry.
function watch (client: Redis, log: WorkerLogger, name: string): Redis {
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

function isClient (input: RedisInput): input is Redis {
  return typeof (input as Redis).duplicate === 'function'
}

/** QUIT, or a hard disconnect when Redis does not answer within `ms`. */
export async function close (client: Redis, ms = 2000): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    client.quit().catch(() => undefined),
    new Promise(resolve => { timer = setTimeout(resolve, ms) })
  ])
  clearTimeout(timer)
  client.disconnect()
}

/** `[id, [field, value, …] | null]`: a stream entry (null when trimmed away). */
export type Entry = [string, string[] | null]

/**
 * The entries of a one-stream XREAD/XREADGROUP reply. RESP2 gives `[[key, entries]]`; RESP3 with
 * ioredis' legacy mapping flattens the map to `[key, entries]`; the `resp3` mapping gives `{key: entries}`.
 */
export function readEntries (reply: unknown): Entry[] {
  if (reply === null || reply === undefined) return []
  if (!Array.isArray(reply)) return Object.values(reply as Record<string, Entry[]>)[0] ?? []
  if (reply.length === 0) return []
  return (Array.isArray(reply[0]) ? reply[0][1] : reply[1]) as Entry[]
}

/** `[field, value, …]` -> `{field: value}` */
export function record (fields: string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (let i = 0; i + 1 < fields.length; i += 2) out[fields[i]] = fields[i + 1]
  return out
}
