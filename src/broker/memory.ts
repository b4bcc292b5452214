// The embedded broker: one node, no Redis. Events and control commands loop back to this node;
// presence and revocations live in maps. It has no workers and is never down, so it serves events,
// presence and control only (see Broker).
import { randomUUID } from 'node:crypto'
import { addTo, removeFrom } from '../multimap.js'
import type { ControlCommand, TokenClaims } from '../protocol/control.js'
import { matchesRoom } from '../room-patterns.js'
import { presenceEvent } from './presence-events.js'
import { RevocationList } from './revocations.js'
import type { Broker, BrokerListener, ControlBus, EventBus, OutgoingEvent, PresenceEntry, PresenceStore } from './types.js'

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

export interface MemoryBrokerOptions {
  /** rooms whose members hear presence.join / presence.leave (docs/protocol.md §4) */
  presenceEventRooms?: readonly string[]
}

export class MemoryBroker implements Broker, EventBus, ControlBus {
  readonly nodeId: string
  readonly presence: MemoryPresence
  readonly events: EventBus = this
  readonly control: ControlBus = this
  private readonly revocations = new RevocationList()
  private listener: BrokerListener | null = null

  constructor (nodeId: string = randomUUID(), { presenceEventRooms = [] }: MemoryBrokerOptions = {}) {
    this.nodeId = nodeId
    this.presence = new MemoryPresence(presenceEventRooms, this)
  }

  async start (listener: BrokerListener): Promise<void> {
    this.listener = listener
  }

  async close (): Promise<void> {
    this.listener = null
  }

  async publish (event: OutgoingEvent): Promise<{ offset?: string }> {
    this.listener?.event({
      target: event.target,
      event: event.event,
      dataJson: JSON.stringify(event.data ?? null),
      exclude: event.exclude
    })
    return {}
  }

  async send (command: ControlCommand): Promise<void> {
    if (command.op === 'revoke') this.revocations.add(command)
    this.listener?.control(command)
  }

  async revoked (token: TokenClaims): Promise<boolean> {
    return this.revocations.covers(token)
  }
}
