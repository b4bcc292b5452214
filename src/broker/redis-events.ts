// Events across nodes (docs/protocol.md §9 Events): one sharded pub/sub channel per target, which a
// node subscribes to only while one of its connections is a member; a target that keeps history is
// published by a script that writes its history stream and publishes in one command turn. Per history
// target the node delivers offsets in increasing order, once: after its subscriber link comes back,
// it reads what the gap lost from history before the live events that arrived meanwhile.
import type { Redis } from 'ioredis'
import {
  type HistoryConfig, type Position, PUBLISH_LUA, RECOVER_LUA, channelOf, compareOffsets, configKey,
  decodeMessage, encodeMessage, historyKeys, keepsHistory, targetOf
} from './history.js'
import type { RedisClient } from './redis-link.js'
import type { ChannelSubscriber } from './redis-pubsub.js'
import type { DeliveredEvent, OutgoingEvent, PublishResult, Recovery } from './types.js'

/** the ioredis commands defined for the scripts (defineCommand: EVALSHA, EVAL when not cached) */
interface Scripted {
  ipcHistoryPublish (stream: string, epoch: string, channel: string, size: number, ttlMs: number, event: string, data: string, exclude: string): Promise<[string, string]>
  ipcHistoryRecover (stream: string, epoch: string, ttlMs: number, offset: string, since: string): Promise<[number, string, string, Array<[string, string[]]>?]>
}

export function defineScripts (redis: RedisClient): void {
  if (typeof (redis as unknown as Partial<Scripted>).ipcHistoryPublish === 'function') return
  redis.defineCommand('ipcHistoryPublish', { numberOfKeys: 2, lua: PUBLISH_LUA })
  redis.defineCommand('ipcHistoryRecover', { numberOfKeys: 2, lua: RECOVER_LUA })
}

export interface EventCallbacks {
  deliver: (ev: DeliveredEvent) => void
  received: () => void
  invalid: (channel: string) => void
  /** history lost events this node had subscribers for (a failover, a flush): nothing was replayed */
  lost: (target: string) => void
}

export class RedisEvents {
  /** per history target this node watches: the last position it delivered */
  private readonly seen = new Map<string, Position>()
  /** history targets being recovered after a reconnect: live events held until history is read */
  private readonly held = new Map<string, DeliveredEvent[]>()
  private readonly targets = new Map<string, number>()
  private readonly redis: RedisClient & Scripted

  constructor (
    redis: RedisClient,
    private readonly sub: ChannelSubscriber,
    private readonly prefix: string,
    readonly config: HistoryConfig,
    private readonly on: EventCallbacks
  ) {
    defineScripts(redis)
    this.redis = redis as RedisClient & Scripted
  }

  /** Gateways tell publishers which targets keep history (docs/protocol.md §9), at start and after a reconnect. */
  async announce (): Promise<void> {
    await this.redis.set(configKey(this.prefix), JSON.stringify(this.config))
  }

  keepsHistory (target: string): boolean {
    return keepsHistory(this.config, target)
  }

  async publish ({ target, event, data, exclude }: OutgoingEvent): Promise<PublishResult> {
    const json = JSON.stringify(data ?? null)
    const channel = channelOf(this.prefix, target)
    if (!this.keepsHistory(target)) {
      await (this.redis as Redis).spublish(channel, encodeMessage(exclude === undefined ? { event } : { event, exclude }, json))
      return {}
    }
    const [stream, epochKey] = historyKeys(this.prefix, target)
    const [offset, epoch] = await this.redis.ipcHistoryPublish(stream, epochKey, channel, this.config.size, this.config.ttlMs, event, json, exclude ?? '')
    return { offset, epoch }
  }

  async watch (target: string): Promise<void> {
    this.targets.set(target, (this.targets.get(target) ?? 0) + 1)
    await this.sub.add(channelOf(this.prefix, target))
  }

  unwatch (target: string): void {
    const n = (this.targets.get(target) ?? 0) - 1
    if (n > 0) {
      this.targets.set(target, n)
      return
    }
    this.targets.delete(target)
    this.seen.delete(target)
    this.sub.remove(channelOf(this.prefix, target))
  }

  async recover (target: string, since?: Position): Promise<Recovery> {
    const [stream, epochKey] = historyKeys(this.prefix, target)
    const [ok, epoch, top, entries] = await this.redis.ipcHistoryRecover(stream, epochKey, this.config.ttlMs, since?.offset ?? '', since?.epoch ?? '')
    const events: DeliveredEvent[] = []
    for (const [offset, fields] of entries ?? []) {
      const ev = fields === null ? null : fromHistory(target, offset, epoch, fields)
      if (ev !== null) events.push(ev)
    }
    return { position: { offset: top, epoch }, recovered: ok === 1, events }
  }

  /** a message on a target's channel */
  readonly message = (channel: string, message: string): void => {
    this.on.received()
    const decoded = decodeMessage(message)
    if (decoded === null || !isJson(decoded.dataJson)) {
      this.on.invalid(channel)
      return
    }
    const { head, dataJson } = decoded
    const ev: DeliveredEvent = { target: targetOf(this.prefix, channel), event: head.event, dataJson, exclude: head.exclude, offset: head.offset, epoch: head.epoch }
    // a history offset is a stream id, which starts with the epoch ms of Redis' clock when it was added
    if (ev.offset !== undefined) ev.publishedAt = parseInt(ev.offset, 10)
    if (ev.offset === undefined || ev.epoch === undefined) {
      this.on.deliver(ev)
      return
    }
    const held = this.held.get(ev.target)
    if (held !== undefined) held.push(ev)
    else this.inOrder(ev)
  }

  /** After the subscriber link came back: what each history target lost meanwhile, then what was held. */
  readonly resubscribed = (): void => {
    for (const [target, position] of this.seen) {
      if (this.held.has(target)) continue
      this.held.set(target, [])
      void this.recover(target, position).then(r => {
        if (r.recovered) for (const ev of r.events) this.inOrder(ev)
        else this.on.lost(target)
      }, () => this.on.lost(target)).finally(() => {
        const held = this.held.get(target) ?? []
        this.held.delete(target)
        for (const ev of held) this.inOrder(ev)
      })
    }
  }

  // Once per offset and in increasing order; an epoch of its own starts over.
  private inOrder (ev: DeliveredEvent): void {
    const last = this.seen.get(ev.target)
    if (last !== undefined && last.epoch === ev.epoch && compareOffsets(ev.offset!, last.offset) <= 0) return
    if (this.targets.has(ev.target)) this.seen.set(ev.target, { offset: ev.offset!, epoch: ev.epoch! })
    this.on.deliver(ev)
  }
}

/** An entry of a history stream: `event`, `data`, `exclude` (docs/protocol.md §9). */
function fromHistory (target: string, offset: string, epoch: string, fields: string[]): DeliveredEvent | null {
  let event: string | undefined
  let dataJson = 'null'
  let exclude: string | undefined
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const value = fields[i + 1]
    switch (fields[i]) {
      case 'event': event = value; break
      case 'data': dataJson = value; break
      case 'exclude': exclude = value; break
    }
  }
  if (event === undefined || !isJson(dataJson)) return null
  return { target, event, dataJson, exclude, offset, epoch }
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
