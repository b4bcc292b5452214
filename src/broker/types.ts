// The Broker: what the gateway needs from the world outside its process, one interface per concern.
// memory.ts serves one node; redis.ts serves many nodes and remote workers.
import type { ControlCommand, TokenClaims } from '../protocol/control.js'
import type { Caller, MethodSpec } from '../protocol/frames.js'

export interface OutgoingEvent {
  target: string
  event: string
  data?: unknown
  /** a connection id that must not receive the event (usually the sender) */
  exclude?: string
}

/** An event as every node receives it; `data` arrives as JSON text so it is serialized only once. */
export interface DeliveredEvent {
  target: string
  event: string
  dataJson: string
  exclude?: string
  offset?: string
}

export interface RemoteCall {
  method: string
  params: unknown
  caller: Caller
  /** epoch ms */
  deadline: number
}

export interface PresenceEntry {
  userId: string
  connectionId: string
}

/** Presence of users and rooms across every node that shares the broker. */
export interface PresenceStore {
  connect (entry: PresenceEntry): Promise<void>
  disconnect (entry: PresenceEntry, rooms: Iterable<string>): Promise<void>
  join (entry: PresenceEntry, room: string): Promise<void>
  leave (entry: PresenceEntry, room: string): Promise<void>
  /** the distinct user ids in a room */
  room (room: string): Promise<string[]>
  online (userIds: string[]): Promise<Record<string, boolean>>
}

export interface BrokerListener {
  /** an event for this node's connections */
  event (event: DeliveredEvent): void
  /** the remote method catalog changed */
  catalog (): void
  /** the broker went down or came back */
  state (up: boolean): void
  /** a control command for this node's connections (docs/protocol.md §9 Control) */
  control (command: ControlCommand): void
}

/** Remote calls: sends a call to a worker and waits for its answer. */
export interface RpcTransport {
  /** resolves with the worker's result or rejects with an RpcError (-32050, -32008, or the worker's) */
  call (call: RemoteCall, onProgress: (data: unknown) => void): Promise<unknown>
}

/** Events: what one node publishes reaches the listener of every node. */
export interface EventBus {
  publish (event: OutgoingEvent): Promise<{ offset?: string }>
}

/** Server-side control across nodes: commands reach the listener of every node, revocations are kept. */
export interface ControlBus {
  /** Sends a command to every node, this one included; a revocation is stored first, until it expires. */
  send (command: ControlCommand): Promise<void>
  /** whether a token was revoked (docs/protocol.md §2) */
  revoked (token: TokenClaims): Promise<boolean>
}

/** The methods remote workers serve, as they published them. */
export interface MethodCatalog {
  /** methods served by remote workers, by name */
  remoteMethods (): ReadonlyMap<string, MethodSpec>
}

/** One record of the lifecycle stream (docs/protocol.md §9): a connection came, went, joined or left a room. */
export interface LifecycleRecord {
  type: 'connect' | 'disconnect' | 'join' | 'leave'
  userId: string
  connectionId: string
  /** join and leave: the room */
  room?: string
  /** disconnect: the rooms it was in */
  rooms?: string[]
}

/** The lifecycle stream, for backends that read it with a consumer group. */
export interface LifecycleLog {
  append (record: LifecycleRecord): Promise<void>
}

/** Whether the backing store answers. */
export interface Health {
  /** false while the backing store is unreachable */
  isUp (): boolean
}

/**
 * A broker engine: one object per concern, started with the gateway as its listener. An engine
 * leaves out what it does not serve (the memory engine has no workers, so no rpc or catalog, and is
 * never down, so no health): the gateway answers for a missing concern itself.
 */
export interface Broker {
  readonly nodeId: string
  readonly events: EventBus
  readonly presence: PresenceStore
  readonly control: ControlBus
  readonly rpc?: RpcTransport
  readonly catalog?: MethodCatalog
  readonly health?: Health
  readonly lifecycle?: LifecycleLog
  start (listener: BrokerListener): Promise<void>
  close (): Promise<void>
}
