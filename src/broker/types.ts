// The Broker: what the gateway needs from the world outside its process, one interface per concern.
// memory.ts serves one node; redis.ts serves many nodes and remote workers.
import type { ControlCommand, TokenClaims } from '../protocol/control.js'
import type { ConnectionInfo, DeadLetter, NodeSnapshot, ServiceState } from '../protocol/admin.js'
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
  /** this node's connections of a user, for another node's admin page */
  connectionsOf? (userId: string): ConnectionInfo[]
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

/**
 * What the admin page reads across nodes (docs/protocol.md §9 Admin): every node's snapshot, the
 * workers and requests of every service, and the dead-letter streams.
 */
export interface AdminStore {
  /** stores this node's snapshot for a few seconds */
  publish (snapshot: NodeSnapshot): Promise<void>
  /** the snapshots of every live node */
  nodes (): Promise<NodeSnapshot[]>
  services (): Promise<ServiceState[]>
  /** a user's connections on every live node (each node answers for its own) */
  connectionsOf (userId: string): Promise<ConnectionInfo[]>
  /** the newest `count` dead letters of a service, and how many there are */
  deadLetters (service: string, count: number): Promise<{ total: number, entries: DeadLetter[] }>
  /**
   * Adds a dead letter to its service's request stream again with a new deadline, then deletes it
   * from the dead-letter stream; the new entry id, or null when there is no such dead letter.
   */
  requeue (service: string, entryId: string, deadlineOf: (method: string) => number): Promise<string | null>
  /** deletes a dead letter; false when there was none */
  drop (service: string, entryId: string): Promise<boolean>
}

/** The methods remote workers serve, as they published them. */
export interface MethodCatalog {
  /** methods served by remote workers, by name */
  remoteMethods (): ReadonlyMap<string, MethodSpec>
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
  readonly admin?: AdminStore
  start (listener: BrokerListener): Promise<void>
  close (): Promise<void>
}
