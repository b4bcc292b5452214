// The embedded broker: one node, no Redis. Events and control commands loop back to this node;
// presence and revocations live in maps. It has no workers and is never down, so it serves events
// (with history per target), presence, control and the answers of idempotent calls only (see Broker).
import { randomUUID } from 'node:crypto'
import { addTo, removeFrom } from '../multimap.js'
import type { ControlCommand, TokenClaims } from '../protocol/control.js'
import { matchesRoom } from '../rooms.js'
import { DEFAULT_HISTORY, type HistoryConfig, keepsHistory } from './history.js'
import { MemoryResults } from './memory-results.js'
import { presenceEvent } from './presence-events.js'
import { RevocationList } from './revocations.js'
import type { Broker, BrokerListener, ControlBus, DeliveredEvent, EventBus, OutgoingEvent, Position, PresenceEntry, PresenceStore, PublishResult, Recovery } from './types.js'

class MemoryPresence implements PresenceStore {
  private readonly users = new Map<string, Set<string>>()
  /** room -> userId -> connection ids */
  private readonly rooms = new Map<string, Map<string, Set<string>>>()

  constructor (private readonly eventRooms: readonly string[], private readonly events: EventBus) {}

  async connect ({ userId, connectionId }: PresenceEntry): Promise<void> {
    addTo(this.users, userId, connectionId)
  }

  async disconnect (entry: PresenceEntry, rooms: Iterable<string>): Promise<void> {
    for (const room of rooms) await this.leave(entry, room)
    removeFrom(this.users, entry.userId, entry.connectionId)
  }

  async join ({ userId, connectionId }: PresenceEntry, room: string): Promise<void> {
    let members = this.rooms.get(room)
    if (members === undefined) this.rooms.set(room, members = new Map())
    const first = !members.has(userId)
    addTo(members, userId, connectionId)
    if (first) await this.announce('join', room, userId)
  }

  async leave ({ userId, connectionId }: PresenceEntry, room: string): Promise<void> {
    const members = this.rooms.get(room)
    if (members?.get(userId)?.has(connectionId) !== true) return
    removeFrom(members, userId, connectionId)
    if (members.size === 0) this.rooms.delete(room)
    if (!members.has(userId)) await this.announce('leave', room, userId)
  }

  async room (room: string): Promise<string[]> {
    return [...(this.rooms.get(room)?.keys() ?? [])]
  }

  async online (userIds: string[]): Promise<Record<string, boolean>> {
    return Object.fromEntries(userIds.map(id => [id, this.users.has(id)]))
  }

  private async announce (what: 'join' | 'leave', room: string, userId: string): Promise<void> {
    if (matchesRoom(this.eventRooms, room)) await this.events.publish(presenceEvent(what, room, userId))
  }
}

/** One target's recent events: bounded by the history's size and dropped `ttlMs` after its last event. */
interface Kept {
  events: DeliveredEvent[]
  /** epoch ms of the last event */
  at: number
  /** events up to this sequence number may have been dropped */
  floor: number
}

const sequenceOf = (offset: string): number => Number(offset.slice(offset.indexOf('-') + 1))

export interface MemoryBrokerOptions {
  /** rooms whose members hear presence.join / presence.leave (docs/protocol.md §4) */
  presenceEventRooms?: readonly string[]
}

export class MemoryBroker implements Broker, EventBus, ControlBus {
  readonly nodeId: string
  readonly presence: MemoryPresence
  readonly events: EventBus = this
  readonly results = new MemoryResults()
  readonly control: ControlBus = this
  private readonly revocations = new RevocationList()
  private listener: BrokerListener | null = null
  /** a new one every run: offsets of an earlier run of the process are never recovered */
  private readonly epoch = String(Date.now() * 1000 + Math.floor(Math.random() * 1000))
  private readonly kept = new Map<string, Kept>()
  private sequence = 0
  /** the newest event of a history that expired */
  private forgotten = 0
  private sweeper: NodeJS.Timeout | null = null

  constructor (nodeId: string = randomUUID(), private readonly history: HistoryConfig = DEFAULT_HISTORY, { presenceEventRooms = [] }: MemoryBrokerOptions = {}) {
    this.nodeId = nodeId
    this.presence = new MemoryPresence(presenceEventRooms, this)
  }

  async start (listener: BrokerListener): Promise<void> {
    this.listener = listener
    this.sweeper = setInterval(() => this.sweep(), Math.min(this.history.ttlMs, 60000))
    this.sweeper.unref()
  }

  async close (): Promise<void> {
    if (this.sweeper !== null) clearInterval(this.sweeper)
    this.listener = null
    this.results.clear()
  }

  keepsHistory (target: string): boolean {
    return keepsHistory(this.history, target)
  }

  async watch (): Promise<void> {}

  unwatch (): void {}

  async publish (event: OutgoingEvent): Promise<PublishResult> {
    const ev: DeliveredEvent = {
      target: event.target,
      event: event.event,
      dataJson: JSON.stringify(event.data ?? null),
      exclude: event.exclude,
      publishedAt: Date.now()
    }
    if (this.keepsHistory(event.target)) {
      ev.offset = `0-${++this.sequence}`
      ev.epoch = this.epoch
      const kept = this.fresh(event.target) ?? { events: [], at: 0, floor: this.forgotten }
      kept.events.push(ev)
      if (kept.events.length > this.history.size) kept.floor = sequenceOf(kept.events.shift()!.offset!)
      kept.at = Date.now()
      this.kept.set(event.target, kept)
    }
    this.listener?.event(ev)
    return ev.offset === undefined ? {} : { offset: ev.offset, epoch: ev.epoch }
  }

  async recover (target: string, since?: Position): Promise<Recovery> {
    const kept = this.fresh(target)
    const events = kept?.events ?? []
    const position = { offset: events.at(-1)?.offset ?? `0-${this.sequence}`, epoch: this.epoch }
    if (since === undefined || since.epoch !== this.epoch) return { position, recovered: false, events: [] }
    const sequence = sequenceOf(since.offset)
    // every event of the target after `since` must still be kept
    if (sequence > this.sequence || sequence < (kept?.floor ?? this.forgotten)) return { position, recovered: false, events: [] }
    return { position, recovered: true, events: events.filter(ev => sequenceOf(ev.offset!) > sequence) }
  }

  private fresh (target: string): Kept | undefined {
    const kept = this.kept.get(target)
    if (kept !== undefined && Date.now() - kept.at > this.history.ttlMs) {
      this.kept.delete(target)
      this.forgotten = Math.max(this.forgotten, sequenceOf(kept.events.at(-1)!.offset!))
      return undefined
    }
    return kept
  }

  private sweep (): void {
    for (const target of this.kept.keys()) this.fresh(target)
  }

  async send (command: ControlCommand): Promise<void> {
    if (command.op === 'revoke') this.revocations.add(command)
    this.listener?.control(command)
  }

  async revoked (token: TokenClaims): Promise<boolean> {
    return this.revocations.covers(token)
  }
}
