// The Broker: what the gateway needs from the world outside its process, one interface per concern.
// memory.ts serves one node; redis.ts serves many nodes and remote workers.
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
  /** epoch ms at which it was published, when the broker knows (the event delivery lag metric) */
  publishedAt?: number
}

export interface RemoteCall {
  method: string
  params: unknown
  caller: Caller
  /** epoch ms */
  deadline: number
  /** W3C trace context the worker continues (docs/protocol.md §9) */
  traceparent?: string
}

/** One call as the request log keeps it (docs/protocol.md §9, §12). */
export interface RequestLogEntry {
  /** the method the client asked for */
  method: string
  /** '' for an anonymous call */
  userId: string
  durationMs: number
  /** the JSON-RPC error code it was answered with; null for a result */
  code: number | null
  /** the call's trace id, when it has one */
  traceId?: string
}

/** Where the request log goes besides the logger: appended without waiting, dropped when the store is down. */
export interface RequestLogSink {
  append (entry: RequestLogEntry): void
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
  readonly rpc?: RpcTransport
  readonly catalog?: MethodCatalog
  readonly health?: Health
  /** the request log stream, when asked for (`requestLogStream`) */
  readonly requestLog?: RequestLogSink
  start (listener: BrokerListener): Promise<void>
  close (): Promise<void>
}
