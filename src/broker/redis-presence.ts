// Presence across nodes: sorted sets scored by expiry (docs/protocol.md §9), refreshed for all of
// this node's connections every ttl/3 and read with a score filter, so a crashed node's entries
// vanish within one TTL. While Redis is down, writes wait for the next refresh and reads fall back
// to what this node knows.
// In rooms of presenceEventRooms each user also has a key of their connections in the room, whose
// scripts decide atomically which connection was the user's first to join or last to leave, across
// nodes; one node at a time sweeps the members of crashed nodes out when they expire.
import type { FastifyBaseLogger } from 'fastify'
import { matchesRoom } from '../room-patterns.js'
import { type Keys, PRESENCE_KEY_TTL_MS } from './keys.js'
import { presenceEvent } from './presence-events.js'
import type { RedisClient } from './redis-link.js'
import type { OutgoingEvent, PresenceEntry, PresenceStore } from './types.js'

interface Local { userId: string, rooms: Set<string> }

export interface PresenceOptions {
  ttlMs: number
  /** room patterns whose members hear presence.join / presence.leave */
  eventRooms: readonly string[]
  /** this node's id, which holds the sweeper's lock */
  nodeId: string
  publish: (event: OutgoingEvent) => Promise<unknown>
}

/** KEYS[1] a user's connections in a room; ARGV connection id, expiry, key ttl. 1: the user's first. */
const JOIN_SCRIPT = `local first = redis.call('ZCARD', KEYS[1]) == 0
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if first then return 1 end
return 0`

/**
 * KEYS[1] a user's connections in a room; ARGV connection id (or empty), now. Removes it and the
 * expired ones (a crashed node's); 1 when that removed the user's last: the one caller that says so.
 */
const LEAVE_SCRIPT = `local n = redis.call('ZREM', KEYS[1], ARGV[1]) + redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if n > 0 and redis.call('ZCARD', KEYS[1]) == 0 then return 1 end
return 0`

/** rooms swept at once */
const SWEEP_BATCH = 100

/** KEYS[1] the lock; ARGV node id, ms. Taken when free, kept by its holder: 1 when this node holds it. */
const LOCK_SCRIPT = `if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0`

export class RedisPresence implements PresenceStore {
  /** this node's authenticated connections: id -> user and rooms */
  private readonly local = new Map<string, Local>()
  private timer: NodeJS.Timeout | null = null
  private sweeper: NodeJS.Timeout | null = null
  private refreshing = false
  private sweeping = false
  private failing = false
  private readonly keyTtlMs: number
  private readonly ttlMs: number
  private readonly eventRooms: readonly string[]

  constructor (
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly options: PresenceOptions,
    private readonly isUp: () => boolean,
    private readonly log: FastifyBaseLogger
  ) {
    this.ttlMs = options.ttlMs
    this.eventRooms = options.eventRooms
    this.keyTtlMs = Math.max(this.ttlMs, PRESENCE_KEY_TTL_MS)
  }

  start (): void {
    this.timer = setInterval(() => { void this.refresh(false) }, Math.max(10, Math.floor(this.ttlMs / 3)))
    this.timer.unref()
    if (this.eventRooms.length === 0) return
    // Every ttl/6, with a lock held for two periods: after a crash, another node sweeps within ttl/2.
    const every = Math.max(10, Math.floor(this.ttlMs / 6))
    this.sweeper = setInterval(() => { void this.sweep(every * 2) }, every)
    this.sweeper.unref()
  }

  stop (): void {
    if (this.timer !== null) clearInterval(this.timer)
    if (this.sweeper !== null) clearInterval(this.sweeper)
    this.timer = this.sweeper = null
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
    const left = [...rooms]
    await this.write([
      this.redis.zrem(userKey, connectionId),
      ...left.map(room => this.redis.zrem(this.keys.presenceRoom(room), member)),
      ...left.map(async room => await this.left(room, userId, connectionId))
    ])
    // offline once no connection of the user is left on any node
    await this.write([
      this.redis.zcount(userKey, Date.now(), '+inf').then(async n => n === 0 ? await this.redis.zrem(this.keys.presenceOnline, userId) : 0)
    ])
  }

  async join ({ userId, connectionId }: PresenceEntry, room: string): Promise<void> {
    this.local.get(connectionId)?.rooms.add(room)
    const key = this.keys.presenceRoom(room)
    const exp = Date.now() + this.ttlMs
    await this.write([
      this.redis.zadd(key, exp, `${userId}|${connectionId}`),
      this.redis.pexpire(key, this.keyTtlMs)
    ])
    if (!matchesRoom(this.eventRooms, room)) return
    await this.write([
      this.redis.zadd(this.keys.presenceEventRooms, exp, room),
      this.redis.pexpire(this.keys.presenceEventRooms, this.keyTtlMs),
      (async () => {
        const first = await this.redis.eval(JOIN_SCRIPT, 1, this.keys.presenceMembers(room, userId), connectionId, exp, this.keyTtlMs)
        if (first === 1) await this.options.publish(presenceEvent('join', room, userId))
      })()
    ])
  }

  async leave ({ userId, connectionId }: PresenceEntry, room: string): Promise<void> {
    this.local.get(connectionId)?.rooms.delete(room)
    await this.write([
      this.redis.zrem(this.keys.presenceRoom(room), `${userId}|${connectionId}`),
      this.left(room, userId, connectionId)
    ])
  }

  /** In a room of presenceEventRooms: presence.leave when this was the user's last connection there. */
  private async left (room: string, userId: string, connectionId: string): Promise<void> {
    if (!matchesRoom(this.eventRooms, room)) return
    const last = await this.redis.eval(LEAVE_SCRIPT, 1, this.keys.presenceMembers(room, userId), connectionId, Date.now())
    if (last === 1) await this.options.publish(presenceEvent('leave', room, userId))
  }

  private async sweepRoom (room: string, now: number): Promise<void> {
    const roomKey = this.keys.presenceRoom(room)
    const expired = await this.redis.zrangebyscore(roomKey, '-inf', now)
    const users = new Set(expired.map(m => m.slice(0, m.lastIndexOf('|'))))
    await Promise.all([...users].map(async userId => await this.left(room, userId, '')))
    if (expired.length > 0) await this.redis.zrem(roomKey, ...expired)
    if (await this.redis.zcard(roomKey) === 0) await this.redis.zrem(this.keys.presenceEventRooms, room)
  }

  /**
   * The members of crashed nodes: in each room of presenceEventRooms, the expired members are
   * removed, and presence.leave sent for each user whose last connection that was. One node at a
   * time, the lock's holder; the scripts make a leave said once even if two nodes swept.
   */
  private async sweep (lockMs: number): Promise<void> {
    if (this.sweeping || !this.isUp()) return
    this.sweeping = true
    try {
      if (await this.redis.eval(LOCK_SCRIPT, 1, this.keys.presenceSweeper, this.options.nodeId, lockMs) !== 1) return
      const now = Date.now()
      const rooms = await this.redis.zrange(this.keys.presenceEventRooms, 0, -1)
      // a batch of rooms at a time: their commands go out together
      for (let i = 0; i < rooms.length; i += SWEEP_BATCH) {
        await Promise.all(rooms.slice(i, i + SWEEP_BATCH).map(async room => await this.sweepRoom(room, now)))
      }
    } catch (err) {
      this.log.debug({ err }, 'presence sweep failed')
    } finally {
      this.sweeping = false
    }
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
   * together (auto-pipelined). Also what re-registers this node after an outage (`restore`): the
   * keys that decide presence events are otherwise only updated (XX), never re-added, so a refresh
   * racing a leave does not bring the connection back.
   */
  async refresh (restore = true): Promise<void> {
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
    const members = new Map<string, Array<number | string>>()
    for (const [connectionId, { userId, rooms }] of this.local) {
      add(this.keys.presenceUser(userId), connectionId)
      add(this.keys.presenceOnline, userId)
      for (const room of rooms) {
        add(this.keys.presenceRoom(room), `${userId}|${connectionId}`)
        if (!matchesRoom(this.eventRooms, room)) continue
        add(this.keys.presenceEventRooms, room)
        let args = members.get(this.keys.presenceMembers(room, userId))
        if (args === undefined) members.set(this.keys.presenceMembers(room, userId), args = [])
        args.push(exp, connectionId)
      }
    }
    const commands: Array<Promise<unknown>> = [this.redis.zremrangebyscore(this.keys.presenceOnline, '-inf', now)]
    for (const [key, args] of sets) commands.push(this.redis.zadd(key, ...args), this.redis.pexpire(key, this.keyTtlMs))
    for (const [key, args] of members) {
      commands.push(restore ? this.redis.zadd(key, ...args) : this.redis.zadd(key, 'XX', ...args), this.redis.pexpire(key, this.keyTtlMs))
    }
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
