// The embedded broker: one node, no Redis. Events loop back to this node; presence lives in maps.
import { randomUUID } from 'node:crypto'
import { ErrorCode, RpcError } from '../protocol/errors.js'
import type { MethodSpec } from '../protocol/frames.js'
import type { Broker, BrokerListener, OutgoingEvent, PresenceEntry, PresenceStore } from './types.js'

class MemoryPresence implements PresenceStore {
  private readonly users = new Map<string, Set<string>>()
  /** room -> userId -> connection ids */
  private readonly rooms = new Map<string, Map<string, Set<string>>>()

  async connect ({ userId, connectionId }: PresenceEntry): Promise<void> {
    getOrAdd(this.users, userId, () => new Set()).add(connectionId)
  }

  async disconnect (entry: PresenceEntry, rooms: Iterable<string>): Promise<void> {
    for (const room of rooms) await this.leave(entry, room)
    removeFrom(this.users, entry.userId, entry.connectionId)
  }

  async join ({ userId, connectionId }: PresenceEntry, room: string): Promise<void> {
    getOrAdd(getOrAdd(this.rooms, room, () => new Map()), userId, () => new Set()).add(connectionId)
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

export class MemoryBroker implements Broker {
  readonly kind = 'memory' as const
  readonly nodeId: string
  readonly presence = new MemoryPresence()
  private listener: BrokerListener | null = null
  private readonly none = new Map<string, MethodSpec>()

  constructor (nodeId: string = randomUUID()) {
    this.nodeId = nodeId
  }

  async start (listener: BrokerListener): Promise<void> {
    this.listener = listener
  }

  async close (): Promise<void> {
    this.listener = null
  }

  isUp (): boolean {
    return true
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

  remoteMethods (): ReadonlyMap<string, MethodSpec> {
    return this.none
  }

  async call (): Promise<unknown> {
    throw new RpcError(ErrorCode.UNAVAILABLE, 'No workers: the in-memory broker serves in-process methods only')
  }
}

function getOrAdd<K, V> (map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key)
  if (value === undefined) map.set(key, value = make())
  return value
}

function removeFrom<K, V> (map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key)
  if (set === undefined) return
  set.delete(value)
  if (set.size === 0) map.delete(key)
}
