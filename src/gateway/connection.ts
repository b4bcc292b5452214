// One WebSocket connection: its state, identity, rooms, in-flight ids, rate budget and timers.
// It owns its timers and clears them all when it closes (like mercurius' subscription-connection).
import { randomUUID } from 'node:crypto'
import type { WebSocket } from 'ws'
import { compareOffsets } from '../broker/history.js'
import type { DeliveredEvent, Position } from '../broker/types.js'
import type { Identity, ResolvedOptions } from '../config.js'
import { CloseCode } from '../protocol/errors.js'
import type { RequestId } from '../protocol/frames.js'
import type { Metrics } from './metrics.js'
import { eventFrame } from './frames.js'
import { holdForTurn } from './socket-writes.js'

type Limits = Pick<ResolvedOptions, 'rateLimit' | 'maxBufferedBytes' | 'authTimeoutMs'>

// setTimeout takes at most a signed 32-bit delay; longer expiries are re-armed.
const MAX_TIMER_MS = 2 ** 31 - 1
const CLOSE_GRACE_MS = 1000

export class Connection {
  readonly id = randomUUID()
  state: 'pending' | 'authenticated' | 'closed' = 'pending'
  identity: Identity | null = null
  readonly rooms = new Set<string>()
  /**
   * ids of requests in flight, made at the first call (most connections stay idle): at most
   * maxInFlight (64 by default), so a list compared with === (1 is not "1") beats a hash table, whose
   * string keys cost a hash and a dictionary store each; notifications count in `pending` only
   */
  private ids: RequestId[] | null = null
  /** requests and notifications in flight */
  pending = 0
  /** what waits for nothing to be in flight here (see settled) */
  private whenSettled: { promise: Promise<void>, resolve: () => void } | null = null
  /** told to go (the node drains): new requests are refused with -32050, and it closes once settled */
  leaving = false
  /** missed heartbeats */
  missed = 0
  /** resolves once this node receives the events of the connection's user and of itself */
  watching: Promise<void> = Promise.resolve()
  /** history targets being recovered: their live events wait here until the answer and history went out */
  private held: Map<string, DeliveredEvent[]> | null = null
  /** per history target, the newest event sent (its offset and epoch): one at or before it is not sent again */
  private floors: Map<string, Position> | null = null
  /** what must follow an answer still to be written, by the answer's frame */
  private follows: Map<string, () => void> | null = null
  private tokens: number
  private refilledAt = Date.now()
  private authTimer: NodeJS.Timeout | null = null
  private expiryTimer: NodeJS.Timeout | null = null

  constructor (
    readonly socket: WebSocket,
    readonly ip: string,
    private readonly limits: Limits,
    private readonly metrics: Metrics,
    private readonly onClose: (conn: Connection) => void
  ) {
    this.tokens = limits.rateLimit * 2
    metrics.connections.inc({ state: 'pending' })
    socket.on('close', () => this.closed())
    socket.on('pong', () => { this.missed = 0 })
  }

  /** Starts the 4001 clock for a connection that did not authenticate on upgrade. */
  awaitAuth (): void {
    this.authTimer = setTimeout(() => this.close(CloseCode.AUTH_TIMEOUT, 'not authenticated in time'), this.limits.authTimeoutMs)
  }

  /** Authenticates, or refreshes the expiry of an authenticated connection. */
  authenticate (identity: Identity): void {
    if (this.state === 'closed') return
    if (this.state === 'pending') {
      this.metrics.connections.dec({ state: 'pending' })
      this.metrics.connections.inc({ state: 'authenticated' })
      this.state = 'authenticated'
    }
    this.identity = identity
    if (this.authTimer !== null) clearTimeout(this.authTimer)
    this.authTimer = null
    this.armExpiry()
  }

  /** Sends one text frame unless the peer has stopped reading, in which case it is closed with 4008. */
  send (text: string): boolean {
    if (!this.writable()) return false
    holdForTurn(this.socket)
    this.socket.send(text)
    this.metrics.messagesOut.inc()
    return true
  }

  /**
   * Sends a frame shared by many sockets (event fan-out): the caller encodes it to UTF-8 once, rather
   * than ws once per socket, and counts the frames sent. Not held for the turn: one frame per socket gains nothing.
   */
  sendShared (utf8: Buffer): boolean {
    if (!this.writable()) return false
    this.socket.send(utf8, { binary: false })
    return true
  }

  /**
   * Whether a live event of a history target goes out now: not while its target is recovered (it
   * is held for later), nor when it was sent already (docs/protocol.md §11).
   */
  accepts (ev: DeliveredEvent): boolean {
    const held = this.held?.get(ev.target)
    if (held !== undefined) {
      held.push(ev)
      return false
    }
    if (!this.after(ev)) return false
    ;(this.floors ??= new Map()).set(ev.target, ev as Position)
    return true
  }

  /** From now on, live events of `target` are held (see accepts). */
  hold (target: string): void {
    (this.held ??= new Map()).set(target, [])
  }

  /**
   * Sends the recovered events, then the held live ones after `from` (the position the answer
   * gave), each once and in order, none this connection was sent already; from then on live events
   * go out again.
   */
  release (target: string, from: Position, recovered: readonly DeliveredEvent[]): void {
    const held = this.held?.get(target) ?? []
    this.held?.delete(target)
    const floors = this.floors ??= new Map()
    for (const ev of recovered) this.sendAfter(ev)
    const floor = floors.get(target)
    if (floor === undefined || floor.epoch !== from.epoch || compareOffsets(floor.offset, from.offset) < 0) floors.set(target, from)
    for (const ev of held) this.sendAfter(ev)
  }

  /** whether `ev` comes after the last event of its target this connection was sent */
  private after (ev: DeliveredEvent): boolean {
    const floor = this.floors?.get(ev.target)
    return floor === undefined || floor.epoch !== ev.epoch || compareOffsets(ev.offset!, floor.offset) > 0
  }

  private sendAfter (ev: DeliveredEvent): void {
    if (!this.after(ev)) return
    this.floors!.set(ev.target, ev as Position)
    if (ev.exclude !== this.id) this.send(eventFrame(ev))
  }

  /** The target is left: nothing is held or remembered for it any more. */
  forget (target: string): void {
    this.held?.delete(target)
    this.floors?.delete(target)
  }

  /** `then` runs once `frame` (an answer) was written: see answered. */
  follow (frame: string, then: () => void): void {
    (this.follows ??= new Map()).set(frame, then)
  }

  /** An answer was written: what had to follow it goes now. */
  answered (frame: string): void {
    if (this.follows === null) return
    const then = this.follows.get(frame)
    if (then === undefined) return
    this.follows.delete(frame)
    then()
  }

  private writable (): boolean {
    if (this.state === 'closed') return false
    if (this.socket.bufferedAmount > this.limits.maxBufferedBytes) {
      this.metrics.slowConsumers.inc()
      this.close(CloseCode.SLOW_CONSUMER, 'slow consumer')
      return false
    }
    return true
  }

  /** whether a request with this id is in flight */
  running (id: RequestId): boolean {
    return this.ids !== null && this.ids.includes(id)
  }

  /** A request (with an id) or a notification (without) starts. */
  started (id: RequestId | undefined): void {
    this.pending++
    if (id !== undefined) (this.ids ??= []).push(id)
  }

  /** It ended: the last one to end lets a drain waiting on this connection go on. */
  ended (id: RequestId | undefined): void {
    if (--this.pending === 0 && this.whenSettled !== null) this.settle()
    const ids = this.ids
    if (id === undefined || ids === null) return
    const i = ids.indexOf(id)
    if (i < 0) return
    ids[i] = ids[ids.length - 1] // order does not matter: swap with the last
    ids.pop()
  }

  /** Resolves once nothing is in flight on this connection, or it closed. */
  async settled (): Promise<void> {
    if (this.pending === 0 || this.state === 'closed') return
    if (this.whenSettled === null) {
      let resolve!: () => void
      const promise = new Promise<void>(res => { resolve = res })
      this.whenSettled = { promise, resolve }
    }
    await this.whenSettled.promise
  }

  private settle (): void {
    const waiting = this.whenSettled!
    this.whenSettled = null
    waiting.resolve()
  }

  /** Refuses its new requests, and closes with 1001 once those in flight are answered. */
  leave (): void {
    if (this.leaving) return
    this.leaving = true
    void this.settled().then(() => this.close(CloseCode.GOING_AWAY, 'node shutting down'))
  }

  /** Token bucket: `rateLimit` messages per second, bursts of twice that. */
  allowMessage (): boolean {
    const rate = this.limits.rateLimit
    if (rate === 0) return true
    const now = Date.now()
    this.tokens = Math.min(rate * 2, this.tokens + (now - this.refilledAt) * rate / 1000)
    this.refilledAt = now
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }

  close (code: number, reason: string): void {
    if (this.state === 'closed') return
    this.socket.close(code, reason)
    // A peer that does not read never answers the close frame, and ws would keep its socket (and the
    // server's shutdown) waiting 30 s: it gets a short grace, then the socket is ended.
    const grace = setTimeout(() => this.socket.terminate(), CLOSE_GRACE_MS)
    this.socket.once('close', () => clearTimeout(grace))
    this.closed()
  }

  private armExpiry (): void {
    if (this.expiryTimer !== null) clearTimeout(this.expiryTimer)
    this.expiryTimer = null
    const expiresAt = this.identity?.expiresAt
    if (expiresAt == null) return
    const delay = expiresAt - Date.now()
    if (delay <= 0) {
      this.close(CloseCode.TOKEN_EXPIRED, 'token expired')
      return
    }
    this.expiryTimer = setTimeout(() => this.armExpiry(), Math.min(delay, MAX_TIMER_MS))
  }

  private closed (): void {
    if (this.state === 'closed') return
    this.metrics.connections.dec({ state: this.state })
    this.state = 'closed'
    if (this.authTimer !== null) clearTimeout(this.authTimer)
    if (this.expiryTimer !== null) clearTimeout(this.expiryTimer)
    this.authTimer = this.expiryTimer = null
    if (this.whenSettled !== null) this.settle()
    this.onClose(this)
  }
}
