// Presence across nodes: sorted sets scored by expiry (docs/protocol.md §9), refreshed for all of
// this node's connections every ttl/3 and read with a score filter, so a crashed node's entries
// vanish within one TTL. While Redis is down, writes wait for the next refresh and reads fall back
// to what this node knows.
import type { FastifyBaseLogger } from 'fastify'
import { type Keys, PRESENCE_KEY_TTL_MS } from './keys.js'
import type { RedisClient } from './redis-link.js'
import type { PresenceEntry, PresenceStore } from './types.js'

interface Local { userId: string, rooms: Set<string> }

export class RedisPresence implements PresenceStore {
  /** this node's authenticated connections: id -> user and rooms */
  private readonly local = new Map<string, Local>()
  private timer: NodeJS.Timeout | null = null
  private refreshing = false
  private failing = false
  private readonly keyTtlMs: number

  constructor (
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly ttlMs: number,
    private readonly isUp: () => boolean,
    private readonly log: FastifyBaseLogger
  ) {
    this.keyTtlMs = Math.max(ttlMs, PRESENCE_KEY_TTL_MS)
  }

  start (): void {
    this.timer = setInterval(() => { void this.refresh() }, Math.max(10, Math.floor(this.ttlMs / 3)))
    this.timer.unref()
  }

  stop (): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }

  async connect ({ userId, connectionId }: PresenceEntry): Promise<void> {
    this.local.set(connectionId, { userId, rooms: new Set() })
    const exp = Date.now() + this.ttlMs
    await this.write([
      this.redis.zadd(this.keys.presenceUser(userId), exp, connectionId),
      this.redis.pexpire(this.keys.presenceUser(userId), this.keyTtlMs),
      this.redis.zadd(this.keys.presenceOnline, exp, userId),
      this.redis.pexpire(this.keys.presenceOnline, this.keyTtlMs)
    ])
  }

  async disconnect ({ userId, connectionId }: PresenceEntry, rooms: Iterable<string>): Promise<void> {
    this.local.delete(connectionId)
    const member = `${userId}|${connectionId}`
    const userKey = this.keys.presenceUser(userId)
    await this.write([
      this.redis.zrem(userKey, connectionId),
      ...[...rooms].map(room => this.redis.zrem(this.keys.presenceRoom(room), member))
    ])
    // offline once no connection of the user is left on any node
    await this.write([
      this.redis.zcount(userKey, Date.now(), '+inf').then(async n => n === 0 ? await this.redis.zrem(this.keys.presenceOnline, userId) : 0)
    ])
  }

  async join ({ userId, connectionId }: PresenceEntry, room: string): Promise<void> {
    this.local.get(connectionId)?.rooms.add(room)
    const key = this.keys.presenceRoom(room)
    await this.write([
      this.redis.zadd(key, Date.now() + this.ttlMs, `${userId}|${connectionId}`),
      this.redis.pexpire(key, this.keyTtlMs)
    ])
  }

  async leave ({ userId, connectionId }: PresenceEntry, room: string): Promise<void> {
    this.local.get(connectionId)?.rooms.delete(room)
    await this.write([this.redis.zrem(this.keys.presenceRoom(room), `${userId}|${connectionId}`)])
  }

  async room (room: string): Promise<string[]> {
    if (this.isUp()) {
      try {
        const members = await this.redis.zrangebyscore(this.keys.presenceRoom(room), Date.now(), '+inf')
        return [...new Set(members.map(m => m.slice(0, m.lastIndexOf('|'))))]
      } catch {}
    }
    const users = new Set<string>()
    for (const c of this.local.values()) if (c.rooms.has(room)) users.add(c.userId)
    return [...users]
  }

  async online (userIds: string[]): Promise<Record<string, boolean>> {
    const out: Record<string, boolean> = {}
    if (this.isUp()) {
      try {
        const scores = await this.redis.zmscore(this.keys.presenceOnline, ...userIds)
        const now = Date.now()
        userIds.forEach((id, i) => { out[id] = scores[i] !== null && Number(scores[i]) > now })
        return out
      } catch {}
    }
    const here = new Set<string>()
    for (const c of this.local.values()) here.add(c.userId)
    for (const id of userIds) out[id] = here.has(id)
    return out
  }

  /**
   * Re-adds every local connection with a fresh expiry, one ZADD per key. The commands go out
   * together (auto-pipelined). Also what re-registers this node after an outage.
   */
  async refresh (): Promise<void> {
    if (this.refreshing || !this.isUp()) return
    this.refreshing = true
    const now = Date.now()
    const exp = now + this.ttlMs
    const sets = new Map<string, Array<number | string>>()
    const add = (key: string, member: string): void => {
      let args = sets.get(key)
      if (args === undefined) sets.set(key, args = [])
      args.push(exp, member)
    }
    for (const [connectionId, { userId, rooms }] of this.local) {
      add(this.keys.presenceUser(userId), connectionId)
      add(this.keys.presenceOnline, userId)
      for (const room of rooms) add(this.keys.presenceRoom(room), `${userId}|${connectionId}`)
    }
    const commands: Array<Promise<unknown>> = [this.redis.zremrangebyscore(this.keys.presenceOnline, '-inf', now)]
    for (const [key, args] of sets) commands.push(this.redis.zadd(key, ...args), this.redis.pexpire(key, this.keyTtlMs))
    try {
      await Promise.all(commands)
      this.failing = false
    } catch (err) {
      if (!this.failing && this.isUp()) this.log.warn({ err }, 'presence refresh failed')
      this.failing = true
    } finally {
      this.refreshing = false
    }
  }

  // Presence is best effort: a failed write is repaired by the next refresh, never a failed request.
  private async write (commands: Array<Promise<unknown>>): Promise<void> {
    await Promise.allSettled(commands)
  }
}
