// Events across nodes: publish = XADD ipc:events; every node reads the whole stream with XREAD
// (no consumer group) on a connection of its own and hands each entry to the hub.
import type { DeliveredEvent, OutgoingEvent } from './types.js'
import { EVENTS_MAXLEN } from './keys.js'
import type { RedisClient } from './redis-link.js'
import { readEntries } from './stream-entries.js'

/** Entries per XREAD, and how long one blocks (ms) before the loop looks at its stop flag again. */
const BATCH = 1000
const BLOCK_MS = 2000

export class EventStream {
  /** id of the last entry handed on; resuming from it after an outage delivers what was missed */
  private last: string | null = null

  constructor (
    private readonly redis: RedisClient,
    private readonly reader: RedisClient,
    private readonly key: string,
    private readonly deliver: (ev: DeliveredEvent) => void,
    private readonly onRead: (n: number) => void,
    private readonly onInvalid: (id: string) => void
  ) {}

  async publish ({ target, event, data, exclude }: OutgoingEvent): Promise<string> {
    const json = JSON.stringify(data ?? null)
    const id = exclude === undefined
      ? await this.redis.xadd(this.key, 'MAXLEN', '~', EVENTS_MAXLEN, '*', 'target', target, 'event', event, 'data', json)
      : await this.redis.xadd(this.key, 'MAXLEN', '~', EVENTS_MAXLEN, '*', 'target', target, 'event', event, 'data', json, 'exclude', exclude)
    return id as string
  }

  /**
   * Reads from the newest entry on: a node sees the events added from its start on. The newest id
   * rather than `$`, so an event added between start() and the first XREAD is not lost.
   */
  async begin (): Promise<void> {
    const newest = await this.reader.xrevrange(this.key, '+', '-', 'COUNT', 1)
    this.last = newest.length > 0 ? newest[0][0] : '0-0'
  }

  /** One XREAD BLOCK from the last entry seen. */
  async read (): Promise<void> {
    if (this.last === null) await this.begin()
    const reply = await this.reader.xread('COUNT', BATCH, 'BLOCK', BLOCK_MS, 'STREAMS', this.key, this.last!) as unknown
    const entries = readEntries(reply)
    for (const [id, fields] of entries) {
      this.last = id
      const ev = fields === null ? null : toEvent(id, fields)
      if (ev === null) this.onInvalid(id)
      else this.deliver(ev)
    }
    if (entries.length > 0) this.onRead(entries.length)
  }
}

function toEvent (offset: string, fields: string[]): DeliveredEvent | null {
  let target: string | undefined
  let event: string | undefined
  let dataJson = 'null'
  let exclude: string | undefined
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const value = fields[i + 1]
    switch (fields[i]) {
      case 'target': target = value; break
      case 'event': event = value; break
      case 'data': dataJson = value; break
      case 'exclude': exclude = value; break
    }
  }
  if (target === undefined || event === undefined || !isJson(dataJson)) return null
  // a stream id starts with the epoch ms of Redis' clock when it was added
  return { target, event, dataJson, exclude, offset, publishedAt: parseInt(offset, 10) }
}

// `data` goes into client frames verbatim: one bad publisher must not break every client's parser.
function isJson (text: string): boolean {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}
