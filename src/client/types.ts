// Options and results of the client's public API.
import type { BackoffOptions } from './backoff.js'
import type { IpcError } from './errors.js'
import type { WebSocketConstructor } from './transport.js'

export type ClientState = 'connecting' | 'open' | 'reconnecting' | 'closed'

export interface IpcClientOptions {
  /** the gateway's WebSocket endpoint, e.g. `wss://example.com/ws` */
  url: string
  /** a fixed token; it cannot be refreshed, so its expiry ends the client (prefer getToken) */
  token?: string
  /** called on every (re)connect and before the token expires; return a fresh JWT */
  getToken?: () => string | Promise<string>
  /** getToken failures in a row (each reported as `reconnecting` with a -32001 error) before the client closes with that error (default 3) */
  maxTokenFailures?: number
  /** default: globalThis.WebSocket, else the `ws` package */
  WebSocket?: WebSocketConstructor
  /** default deadline of a call once it is sent (default 10000) */
  callTimeoutMs?: number
  /** silence (no frame of any kind) after which the client sends rpc.ping (default: the server's heartbeatMs; 0 = never) */
  idleTimeoutMs?: number
  /** how long that ping may go unanswered before the connection counts as dead and is replaced (default: min(heartbeatMs, 10000)) */
  pingTimeoutMs?: number
  /** `false`: a lost connection closes the client */
  reconnect?: BackoffOptions | false
  /** calls made while disconnected wait here: at most `max` of them (default 100), each at most `timeoutMs` (default 10000) */
  queue?: { max?: number, timeoutMs?: number }
  /**
   * after a reconnect, ask for the events of joined rooms and of the user missed meanwhile (those
   * targets that keep history); `onRecovery` says for each whether that worked (default true)
   */
  recover?: boolean
  /** methods whose every call carries an idempotency key, as if called with `idempotencyKey: true` */
  idempotentMethods?: string[]
}

export interface CallOptions {
  /** deadline once sent (default: callTimeoutMs); -32008 after it */
  timeoutMs?: number
  /** aborting rejects the call with `signal.reason` (the server may still run it) */
  signal?: AbortSignal
  /** receives the data of each `rpc.progress` frame of this call */
  onProgress?: (data: unknown) => void
  /**
   * `true` (a new random key) or a key of your own (1-256 characters, unique per user): the call is
   * sent again with it when the connection drops before its answer, and the gateway answers it from
   * its one run (docs/protocol.md §3), so it is answered once and run once
   */
  idempotencyKey?: true | string
}

/** What a reconnect recovered of one target: `recovered: false` means events may have been missed (refetch its state). */
export interface RecoveryReport {
  /** `room:<name>` or `user:<id>` */
  target: string
  recovered: boolean
}

export type RecoveryListener = (report: RecoveryReport) => void

export interface EventMeta {
  event: string
  /** `user:<id>`, `room:<name>`, `conn:<id>` or `all` */
  target: string
  /** the event's place in its target's history (targets that keep one, docs/protocol.md §4) */
  offset?: string
  /** the history's epoch, with `offset` */
  epoch?: string
}

export type EventHandler<T = any> = (data: T, meta: EventMeta) => void

/** `error` says why the client closed when it was not `close()` that closed it; with `reconnecting`, it is a getToken failure. */
export type StateListener = (state: ClientState, error?: IpcError) => void

export interface AuthResult {
  connectionId: string
  userId: string
  node: string
  expiresAt: number | null
  heartbeatMs: number
  /** the user target's position, when it keeps history */
  offset?: string
  epoch?: string
  /** with `recover`: whether the missed events follow */
  recovered?: boolean
}

export interface JoinResult {
  room: string
  /** the room's position, when it keeps history */
  offset?: string
  epoch?: string
  /** with `recover`: whether the missed events follow */
  recovered?: boolean
}

export type PresenceResult =
  | { room: string, count: number, users: string[] }
  | { online: Record<string, boolean> }
