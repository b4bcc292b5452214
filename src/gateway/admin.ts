// The admin page's side of a node (docs/protocol.md §9 Admin, §10): publishes this node's snapshot
// every second, and answers the page's questions from every node's snapshots and from Redis. With
// the in-memory broker the page sees this node alone, and there are no workers or dead letters.
import type { FastifyBaseLogger } from 'fastify'
import type { Broker } from '../broker/types.js'
import type { ResolvedOptions } from '../config.js'
import { type ConnectionInfo, type DeadLetter, type NodeSnapshot, type Overview, STATS_EVERY_MS } from '../protocol/admin.js'
import { ErrorCode, RpcError } from '../protocol/errors.js'
import { overview } from './admin-overview.js'
import type { Hub } from './hub.js'
import type { Registry } from './registry.js'
import { NodeStats } from './stats.js'

export interface AdminDeps {
  hub: Hub
  broker: Broker
  registry: Registry
  options: Pick<ResolvedOptions, 'defaultTimeoutMs'>
  log: FastifyBaseLogger
}

const DEAD_SHOWN = 50
const noDeadLetters = (): RpcError => new RpcError(ErrorCode.UNAVAILABLE, 'Unavailable: dead letters live in Redis, and this gateway has no Redis')

export class Admin {
  readonly stats = new NodeStats()
  private timer: NodeJS.Timeout | null = null
  private last: NodeSnapshot
  private failing = false

  constructor (private readonly deps: AdminDeps) {
    this.last = this.stats.tick(this.state())
  }

  start (): void {
    this.timer = setInterval(() => { void this.publish() }, STATS_EVERY_MS)
    this.timer.unref()
  }

  stop (): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }

  /** every node's picture merged; this node's own always, from memory, should Redis miss it */
  async overview (): Promise<Overview> {
    const store = this.deps.broker.admin
    const up = this.deps.broker.health?.isUp() !== false
    const [nodes, services] = store === undefined || !up
      ? [[], []]
      : await Promise.all([store.nodes(), store.services()])
    const mine = this.deps.broker.nodeId
    return overview(mine, nodes.some(n => n.node === mine) ? nodes : [...nodes, this.last], services)
  }

  /** a user's connections on every node */
  async connectionsOf (userId: string): Promise<ConnectionInfo[]> {
    const store = this.deps.broker.admin
    const found = store === undefined ? this.localConnections(userId) : await store.connectionsOf(userId)
    return found.sort((a, b) => a.node < b.node ? -1 : a.node > b.node ? 1 : a.connectionId < b.connectionId ? -1 : 1)
  }

  /** this node's authenticated connections of a user */
  localConnections (userId: string): ConnectionInfo[] {
    const node = this.deps.broker.nodeId
    return this.deps.hub.select({ userId }).map(conn => ({
      connectionId: conn.id, node, userId, ip: conn.ip, rooms: [...conn.rooms].sort(), expiresAt: conn.identity?.expiresAt ?? null
    }))
  }

  async deadLetters (service: string): Promise<{ total: number, entries: DeadLetter[] }> {
    const store = this.deps.broker.admin
    if (store === undefined) throw noDeadLetters()
    return await store.deadLetters(service, DEAD_SHOWN)
  }

  /** the new entry id, or null when there is no such dead letter */
  async requeue (service: string, entryId: string): Promise<string | null> {
    const store = this.deps.broker.admin
    if (store === undefined) throw noDeadLetters()
    // the old deadline has passed (its caller was answered long ago): the method's own timeout anew
    const deadlineOf = (method: string): number => Date.now() + (this.deps.registry.get(method)?.spec.timeoutMs ?? this.deps.options.defaultTimeoutMs)
    return await store.requeue(service, entryId, deadlineOf)
  }

  async drop (service: string, entryId: string): Promise<boolean> {
    const store = this.deps.broker.admin
    if (store === undefined) throw noDeadLetters()
    return await store.drop(service, entryId)
  }

  private async publish (): Promise<void> {
    this.last = this.stats.tick(this.state())
    const store = this.deps.broker.admin
    if (store === undefined || this.deps.broker.health?.isUp() === false) return
    try {
      await store.publish(this.last)
      this.failing = false
    } catch (err) {
      if (!this.failing) this.deps.log.warn({ err }, 'publishing the admin snapshot failed')
      this.failing = true
    }
  }

  private state (): Parameters<NodeStats['tick']>[0] {
    const { hub, broker } = this.deps
    let authenticated = 0
    for (const conn of hub.connections.values()) if (conn.state === 'authenticated') authenticated++
    return {
      node: broker.nodeId,
      brokerUp: broker.health?.isUp() !== false,
      connections: { pending: hub.connections.size - authenticated, authenticated },
      users: hub.users.size,
      rooms: hub.rooms
    }
  }
}
