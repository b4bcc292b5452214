// Every command a worker sends about the stream `ipc:rpc:<service>`, as one consumer of group `workers`.
import { CLAIM_IDLE_MS, REQUEST_MAXLEN, WORKER_GROUP } from '../broker/keys.js'
import { type Entry, readEntries } from '../broker/stream-entries.js'
import { type RawEntry, textEntries, type WorkerRedis } from './redis.js'

export class RequestStream {
  constructor (
    private readonly redis: WorkerRedis,
    readonly key: string,
    private readonly deadKey: string,
    private readonly consumer: string
  ) {}

  /** From the stream's start, so requests added before the group existed are not missed. */
  async ensureGroup (): Promise<void> {
    try {
      await this.redis.xgroup('CREATE', this.key, WORKER_GROUP, '0', 'MKSTREAM')
    } catch (err) {
      if (!String(err).includes('BUSYGROUP')) throw err
    }
  }

  /** New requests, on a connection of its own (`blocking`), waiting up to `blockMs`. */
  async read (blocking: WorkerRedis, count: number, blockMs: number): Promise<Entry[]> {
    const reply = await blocking.callBuffer('XREADGROUP', 'GROUP', WORKER_GROUP, this.consumer, 'COUNT', count, 'BLOCK', blockMs, 'STREAMS', this.key, '>')
    return textEntries(readEntries<RawEntry>(reply))
  }

  /** Requests idle for CLAIM_IDLE_MS (their worker died), now ours; `next` is '0-0' once the scan is complete. */
  async claim (cursor: string, count: number): Promise<{ next: string, entries: Entry[] }> {
    const [next, entries] = await this.redis.call('XAUTOCLAIM', this.key, WORKER_GROUP, this.consumer, CLAIM_IDLE_MS, cursor, 'COUNT', count) as [string, Entry[]]
    return { next, entries }
  }

  /** Whether a request has been idle for CLAIM_IDLE_MS: its worker died, and it is there to be claimed. */
  async abandoned (): Promise<boolean> {
    const rows = await this.redis.call('XPENDING', this.key, WORKER_GROUP, 'IDLE', CLAIM_IDLE_MS, '-', '+', 1) as unknown[]
    return rows.length > 0
  }

  /** How often a pending request has been delivered; null once it is acked. */
  async deliveries (entryId: string): Promise<number | null> {
    const rows = await this.redis.call('XPENDING', this.key, WORKER_GROUP, entryId, entryId, 1) as Array<[string, string, number, number]>
    return rows.length === 0 ? null : Number(rows[0][3])
  }

  // A handler running longer than the claim time would look abandoned and run twice: XCLAIM … JUSTID
  // on our own long jobs resets their idle time without counting a delivery.
  async renew (entryIds: string[]): Promise<void> {
    if (entryIds.length > 0) await this.redis.call('XCLAIM', this.key, WORKER_GROUP, this.consumer, 0, ...entryIds, 'JUSTID')
  }

  /** Copies a request into `ipc:rpc:<service>:dead` with its `error` (JSON). */
  async bury (fields: string[], error: unknown): Promise<void> {
    await this.redis.xadd(this.deadKey, 'MAXLEN', '~', REQUEST_MAXLEN, '*', ...fields, 'error', JSON.stringify(error))
  }
}
