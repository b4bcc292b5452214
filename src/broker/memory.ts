// The embedded broker: one node, no Redis. Events loop back to this node; presence lives in maps.
// It has no workers and is never down, so it serves events and presence only (see Broker).
import { randomUUID } from 'node:crypto'
import { addTo, removeFrom } from '../multimap.js'
import type { Broker, BrokerListener, EventBus, OutgoingEvent, PresenceEntry, PresenceStore } from './types.js'

class MemoryPresence implements PresenceStore {
  private readonly users = new Map<string, Set<string>>()
  /** room -> userId -> connection ids */
  private readonly rooms = new Map<string, Map<string, Set<string>>>()

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
    addTo(members, userId, connectionId)
  }

  async leave ({ userId, connectionId }: PresenceEntry, room: string): Promise<void> {
    const members = this.rooms.get(room)
    if (members === undefined) return
    removeFrom(members, userId, connectionId)
    if (members.size === 0) this.rooms.delete(room)
  }

  async room (room: string): Promise<string[]> {
    return [...(this.rooms.get(room)?.keys() ?? [])]
  }

  async online (userIds: string[]): Promise<Record<string, boolean>> {
    return Object.fromEntries(userIds.map(id => [id, this.users.has(id)]))
  }
}

export class MemoryBroker implements Broker, EventBus {
  readonly nodeId: string
  readonly presence = new MemoryPresence()
  readonly events: EventBus = this
  private listener: BrokerListener | null = null

  constructor (nodeId: string = randomUUID()) {
    this.nodeId = nodeId
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
      exclude: event.exclude,
      publishedAt: Date.now()
    })
    return {}
  }
}
