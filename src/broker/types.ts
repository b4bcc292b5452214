// The Broker: what the gateway needs from the world outside its process, one interface per concern.
// memory.ts serves one node; redis.ts serves many nodes and remote workers.
import type { ControlCommand, TokenClaims } from '../protocol/control.js'
import type { ConnectionInfo, DeadLetter, NodeSnapshot, ServiceState } from '../protocol/admin.js'
import type { Caller, MethodSpec } from '../protocol/frames.js'
import type { Position } from './history.js'

export type { Position }

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
  /** for a target that keeps history: the event's place in it, and the history's epoch */
  offset?: string
  epoch?: string
  /** epoch ms at which it was published, when the broker knows (the event delivery lag metric) */
  publishedAt?: number
}

/** What a publish answers: the event's place in its target's history, when the target keeps one. */
export interface PublishResult {
  offset?: string
  epoch?: string
}

/** A history target's position and, when asked to recover from one, what followed it. */
export interface Recovery {
  position: Position
  /** given `since`: true when `events` holds every event after it, in order; false when history lost some */
  recovered: boolean
  events: DeliveredEvent[]
}

export interface RemoteCall {
  method: string
  params: unknown
  caller: Caller
  /** epoch ms */
  deadline: number
  /** the request's idempotencyKey, passed to the worker (docs/protocol.md §9) */
  idem?: string
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

/**
 * Events: what one node publishes reaches the listener of every node that watches its target
 * (docs/protocol.md §4, §9). The hub watches a target while one of its connections is a member.
 */
export interface EventBus {
  publish (event: OutgoingEvent): Promise<PublishResult>
  /** whether events of `target` carry an offset and can be recovered */
  keepsHistory (target: string): boolean
  /** this node wants the events of `target`; resolves once they flow to it */
  watch (target: string): Promise<void>
  /** this node no longer has a member of `target` */
  unwatch (target: string): void
  /** a history target's position and, with `since`, the events after it (rejects when unreachable) */
  recover (target: string, since?: Position): Promise<Recovery>
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

/** What a claim on an idempotency record found (docs/protocol.md §3, Resumable calls). */
export type Claim =
  /** nobody held it: the caller runs the call and must complete() or release() it */
  | { state: 'claimed' }
  /** a run of it is under way (on this node or another) */
  | { state: 'running' }
  /** its answer, as the JSON text of `{result}` or `{error}` */
  | { state: 'done', answer: string }
  /** the key was used for another call (method or params differ) */
  | { state: 'conflict' }

/**
 * Answers of calls with an idempotency key, shared by every node. `key` is the record's scoped name
 * (user and key), `token` tells one run's claim from another's.
 */
export interface ResultStore {
  /**
   * Claims `key` for a run lasting up to `leaseMs`, or says who holds it. `waiting`: the caller
   * watches the key (see watch) and wants to hear when its answer is stored.
   */
  claim (key: string, fingerprint: string, token: string, leaseMs: number, waiting: boolean): Promise<Claim>
  /** stores the answer of the run holding `token`, kept `ttlMs`, and wakes the watchers */
  complete (key: string, token: string, answer: string, ttlMs: number): Promise<void>
  /** gives a claim up without an answer (the run failed before it ran): the next re-send runs it */
  release (key: string, token: string): Promise<void>
  /**
   * Listens for `key`'s answer: `changed` resolves once it may have been stored, or after `ms` at
   * the latest (then claim again). Watch first, then claim with `waiting`, so no answer slips between.
   */
  watch (key: string, ms: number): Watch
}

export interface Watch {
  changed: Promise<void>
  /** stops listening (the claim found the answer after all) */
  cancel (): void
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
  /** absent: the gateway keeps the answers of idempotent calls in its own process */
  readonly results?: ResultStore
  readonly admin?: AdminStore
  readonly lifecycle?: LifecycleLog
  /** the request log stream, when asked for (`requestLogStream`) */
  readonly requestLog?: RequestLogSink
  start (listener: BrokerListener): Promise<void>
  close (): Promise<void>
}
