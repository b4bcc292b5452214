// This node's connections: indexes by user, room and IP, event fan-out, presence bookkeeping, heartbeats.
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyBaseLogger } from 'fastify'
import type { DeliveredEvent, PresenceStore } from '../broker/types.js'
import type { Identity, ResolvedOptions } from '../config.js'
import { addTo, removeFrom } from '../multimap.js'
import { CloseCode } from '../protocol/errors.js'
import type { Connection } from './connection.js'
import { eventFrame } from './frames.js'
import type { Metrics } from './metrics.js'

/** the shortest pause between two batches of a spread drain */
const DISMISS_EVERY_MS = 50

type Limits = Pick<ResolvedOptions, 'maxConnections' | 'maxConnectionsPerUser' | 'maxConnectionsPerIp' | 'heartbeatMs'>

export class Hub {
  readonly connections = new Map<string, Connection>()
  private readonly users = new Map<string, Set<Connection>>()
  private readonly rooms = new Map<string, Set<Connection>>()
  private readonly ips = new Map<string, number>()
  /** presence updates under way, which a closing node waits for (they say presence.leave) */
  private readonly updating = new Set<Promise<void>>()
  private heartbeat: NodeJS.Timeout | null = null
  draining = false

  constructor (
    private readonly presence: PresenceStore,
    private readonly limits: Limits,
    private readonly metrics: Metrics,
    private readonly log: FastifyBaseLogger
  ) {}

  start (): void {
    this.heartbeat = setInterval(() => this.beat(), this.limits.heartbeatMs)
    this.heartbeat.unref()
  }

  stop (): void {
    if (this.heartbeat !== null) clearInterval(this.heartbeat)
    this.heartbeat = null
  }

  /** Admits a new connection, or closes it with 4029 when a node or IP cap is reached. */
  add (conn: Connection): boolean {
    const { maxConnections, maxConnectionsPerIp } = this.limits
    const fromIp = this.ips.get(conn.ip) ?? 0
    if ((maxConnections > 0 && this.connections.size >= maxConnections) ||
        (maxConnectionsPerIp > 0 && fromIp >= maxConnectionsPerIp)) {
      this.metrics.rejected.inc({ reason: 'too_many_connections' })
      conn.close(CloseCode.TOO_MANY_CONNECTIONS, 'too many connections')
      return false
    }
    this.connections.set(conn.id, conn)
    this.ips.set(conn.ip, fromIp + 1)
    this.metrics.accepted.inc()
    return true
  }

  /** Authenticates a connection and indexes it by user; false (and closed with 4029) over the per-user cap. */
  authenticate (conn: Connection, identity: Identity): boolean {
    const first = conn.state === 'pending'
    if (first) {
      const mine = this.users.get(identity.userId)
      const cap = this.limits.maxConnectionsPerUser
      if (cap > 0 && mine !== undefined && mine.size >= cap) {
        this.metrics.rejected.inc({ reason: 'too_many_connections_per_user' })
        conn.close(CloseCode.TOO_MANY_CONNECTIONS, 'too many connections for this user')
        return false
      }
    }
    conn.authenticate(identity)
    if (first && conn.state === 'authenticated') {
      addTo(this.users, identity.userId, conn)
      this.background(this.presence.connect(entry(conn)))
    }
    return conn.state === 'authenticated'
  }

  remove (conn: Connection): void {
    if (!this.connections.delete(conn.id)) return
    const n = (this.ips.get(conn.ip) ?? 1) - 1
    if (n === 0) this.ips.delete(conn.ip)
    else this.ips.set(conn.ip, n)
    for (const room of conn.rooms) removeFrom(this.rooms, room, conn)
    if (conn.identity !== null) {
      removeFrom(this.users, conn.identity.userId, conn)
      this.background(this.presence.disconnect(entry(conn), conn.rooms))
    }
  }

  async join (conn: Connection, room: string): Promise<void> {
    if (conn.rooms.has(room)) return
    conn.rooms.add(room)
    addTo(this.rooms, room, conn)
    await this.presence.join(entry(conn), room)
  }

  async leave (conn: Connection, room: string): Promise<void> {
    if (!conn.rooms.delete(room)) return
    removeFrom(this.rooms, room, conn)
    await this.presence.leave(entry(conn), room)
  }

  /** this node's authenticated connections of a user, or the one connection with an id */
  select ({ userId, connectionId }: { userId?: string, connectionId?: string }): Connection[] {
    const found = connectionId !== undefined ? [this.connections.get(connectionId)] : [...(this.users.get(userId!) ?? [])]
    return found.filter((conn): conn is Connection => conn?.state === 'authenticated' && (userId === undefined || conn.identity?.userId === userId))
  }

  /** Delivers an event to this node's connections; the frame is serialized once for all of them. */
  deliver (ev: DeliveredEvent): void {
    const sep = ev.target.indexOf(':')
    const kind = sep < 0 ? ev.target : ev.target.slice(0, sep)
    const name = ev.target.slice(sep + 1)
    let targets: Iterable<Connection> | undefined
    if (kind === 'all') targets = this.connections.values()
    else if (kind === 'user') targets = this.users.get(name)
    else if (kind === 'room') targets = this.rooms.get(name)
    else if (kind === 'conn') {
      const one = this.connections.get(name)
      targets = one === undefined ? undefined : [one]
    }
    if (targets === undefined) return
    const utf8 = Buffer.from(eventFrame(ev))
    let n = 0
    for (const conn of targets) {
      if (conn.state === 'authenticated' && conn.id !== ev.exclude && conn.sendShared(utf8)) n++
    }
    if (n > 0) {
      this.metrics.eventsDelivered.inc(n)
      this.metrics.messagesOut.inc(n)
    }
  }

  /**
   * Tells every connection to go, in batches spread evenly over `spreadMs` (in a random order), so
   * that its clients do not all reconnect to the other nodes in the same moment. A connection told
   * to go refuses new requests and closes with 1001 once those in flight are answered; the others
   * go on working until their turn.
   */
  async dismiss (spreadMs: number): Promise<void> {
    const conns = shuffle([...this.connections.values()])
    const batches = Math.max(1, Math.min(conns.length, Math.ceil(spreadMs / DISMISS_EVERY_MS)))
    for (let b = 0; b < batches; b++) {
      if (b > 0) await sleep(spreadMs / batches)
      const end = Math.floor((b + 1) * conns.length / batches)
      for (let i = Math.floor(b * conns.length / batches); i < end; i++) conns[i].leave()
    }
  }

  /** Resolves once no request is in flight on any connection. */
  async settled (): Promise<void> {
    await Promise.all(Array.from(this.connections.values(), conn => conn.settled()))
  }

  /** Closes every connection with 1001 (after in-flight requests were answered). */
  closeAll (code: number = CloseCode.GOING_AWAY, reason = 'node shutting down'): void {
    for (const conn of [...this.connections.values()]) conn.close(code, reason)
  }

  // A connection that has not answered two pings in a row is gone.
  private beat (): void {
    for (const conn of this.connections.values()) {
      if (conn.missed >= 2) {
        conn.socket.terminate()
        continue
      }
      conn.missed++
      conn.socket.ping()
    }
  }

  /** Resolves once the presence updates under way are done, so the broker is not closed under them. */
  async flushed (): Promise<void> {
    await Promise.all(this.updating)
  }

  private background (p: Promise<void>): void {
    const done = p.catch((err: unknown) => this.log.debug({ err }, 'presence update failed')).finally(() => this.updating.delete(done))
    this.updating.add(done)
  }
}

const entry = (conn: Connection) => ({ userId: conn.identity?.userId ?? '', connectionId: conn.id })

/** Fisher-Yates, in place */
function shuffle<T> (list: T[]): T[] {
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    const t = list[i]
    list[i] = list[j]
    list[j] = t
  }
  return list
}
