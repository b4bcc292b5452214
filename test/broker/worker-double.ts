// The worker side of docs/protocol.md §9 in raw Redis commands, so the gateway's half of the
// bridge is tested against the wire contract rather than against our own Worker SDK.
import { Redis } from 'ioredis'

export interface WireRequest {
  entry: string
  fields: Record<string, string>
  id: string
  method: string
  params: any
  reply: string
  deadline: number
}

export class WorkerDouble {
  readonly redis: Redis
  private readonly blocking: Redis
  private serving: Promise<void> | null = null
  private stopped = false

  constructor (url: string, readonly service: string, readonly name = 'w1', readonly prefix = 'ipc:') {
    this.redis = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => 100 })
    this.blocking = this.redis.duplicate()
    this.redis.on('error', () => {})
    this.blocking.on('error', () => {})
  }

  get stream (): string { return `${this.prefix}rpc:${this.service}` }

  /** group, methods hash + PUBLISH, heartbeat: what a worker does on start */
  async register (methods: Record<string, object>, ttlMs = 15000): Promise<void> {
    await this.redis.xgroup('CREATE', this.stream, 'workers', '0', 'MKSTREAM').catch((err: Error) => {
      if (!err.message.startsWith('BUSYGROUP')) throw err
    })
    await this.heartbeat(ttlMs)
    const fields = Object.entries(methods).flatMap(([name, spec]) => [name, JSON.stringify(spec)])
    await this.redis.hset(`${this.prefix}methods:${this.service}`, ...fields)
    await this.redis.publish(`${this.prefix}catalog`, this.service)
  }

  async heartbeat (ttlMs = 15000): Promise<void> {
    await this.redis.zadd(`${this.prefix}workers:${this.service}`, Date.now() + ttlMs, this.name)
  }

  /** XREADGROUP up to `count` new requests, waiting at most `blockMs`. */
  async take (count = 100, blockMs = 1000): Promise<WireRequest[]> {
    const reply = await this.blocking.xreadgroup('GROUP', 'workers', this.name, 'COUNT', count, 'BLOCK', blockMs, 'STREAMS', this.stream, '>') as Array<[string, Array<[string, string[]]>]> | null
    if (reply === null) return []
    return reply[0][1].map(([entry, list]) => {
      const fields: Record<string, string> = {}
      for (let i = 0; i < list.length; i += 2) fields[list[i]] = list[i + 1]
      return { entry, fields, id: fields.id, method: fields.method, params: JSON.parse(fields.params), reply: fields.reply, deadline: Number(fields.deadline) }
    })
  }

  /** RPUSH a reply (or progress) frame, PEXPIRE the list, and XACK when it is the final one. */
  async answer (req: WireRequest, frame: Record<string, unknown>): Promise<void> {
    await this.redis.rpush(req.reply, JSON.stringify({ id: req.id, ...frame }))
    await this.redis.pexpire(req.reply, 60000)
    if (!('progress' in frame)) await this.redis.xack(this.stream, 'workers', req.entry)
  }

  /** Serves requests in a loop until stop(): `handle` returns the final frame, or null to leave one unanswered. */
  serve (handle: (req: WireRequest) => Promise<Record<string, unknown> | null> | Record<string, unknown> | null): void {
    this.serving = (async () => {
      while (!this.stopped) {
        let batch: WireRequest[]
        try {
          batch = await this.take(100, 200)
        } catch {
          await new Promise(resolve => setTimeout(resolve, 100))
          continue
        }
        await Promise.all(batch.map(async req => {
          const frame = await handle(req)
          if (frame !== null) await this.answer(req, frame).catch(() => {})
        }))
      }
    })()
  }

  async close (): Promise<void> {
    this.stopped = true
    await this.serving
    this.blocking.disconnect()
    this.redis.disconnect()
  }
}
