// The client: one WebSocket at a time, authenticated by its first message (rpc.auth), re-established
// with backoff when it drops; calls, events, rooms and presence on top of it. It owns every timer it
// starts and clears them all when it closes. Across reconnects it recovers the events of its rooms
// and user it missed (docs/protocol.md §5) and sends again its calls with an idempotency key (§3).
import { CloseCode, ErrorCode } from '../protocol/errors.js'
import { type BackoffOptions, backoffDefaults, backoffDelay } from './backoff.js'
import { IpcError, unavailable } from './errors.js'
import { type EventParams, EventHandlers, guard } from './events.js'
import { PendingCalls } from './pending.js'
import { Positions, newIdempotencyKey } from './positions.js'
import { SendQueue } from './queue.js'
import { type WebSocketLike, closeSocket, resolveWebSocket } from './transport.js'
import type { AuthResult, CallOptions, ClientState, EventHandler, IpcClientOptions, JoinResult, PresenceResult, RecoveryListener, StateListener } from './types.js'

// setTimeout takes at most a signed 32-bit delay; a longer one would fire at once.
const MAX_TIMER_MS = 2 ** 31 - 1
const REFRESH_MARGIN_MS = 30000
// The protocol's default server heartbeat, for a connection with no rpc.auth result to read it from.
const DEFAULT_HEARTBEAT_MS = 25000
// The longest default wait for the answer to a keepalive rpc.ping.
const MAX_PING_TIMEOUT_MS = 10000

interface Frame {
  id?: unknown
  method?: unknown
  params?: Record<string, unknown>
  result?: unknown
  error?: unknown
}

export class IpcClient {
  private readonly options: IpcClientOptions
  private readonly backoff: Required<BackoffOptions> | false
  private readonly callTimeoutMs: number
  private readonly pending = new PendingCalls()
  private readonly queue: SendQueue
  private readonly rooms = new Set<string>()
  private readonly events = new EventHandlers()
  private readonly stateListeners = new Set<StateListener>()
  private readonly recoveryListeners = new Set<RecoveryListener>()
  private readonly positions = new Positions()
  private readonly idempotent: ReadonlySet<string>
  /** the user of the last session, whose target's position a reconnect recovers from */
  private lastUserId: string | null = null
  private ws: WebSocketLike | null = null
  private current: ClientState = 'closed'
  private session: AuthResult | null = null
  private nextId = 1
  /** failed connection attempts in a row */
  private attempts = 0
  /** token rejections in a row */
  private authFailures = 0
  /** getToken failures in a row */
  private tokenFailures = 0
  /** bumped by every stop, so an attempt still loading the WebSocket class knows it is stale */
  private epoch = 0
  private retryTimer: ReturnType<typeof setTimeout> | undefined
  private refreshTimer: ReturnType<typeof setTimeout> | undefined
  private watchdogTimer: ReturnType<typeof setTimeout> | undefined
  /** performance.now() of the current socket's last inbound frame (server pings included where visible) */
  private lastSeen = 0
  private ready: { promise: Promise<void>, resolve (): void, reject (err: IpcError): void } | null = null

  constructor (options: IpcClientOptions) {
    const url = new URL(options.url)
    if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new TypeError(`IpcClient: url must start with ws: or wss:, got ${options.url}`)
    if (options.token !== undefined && options.getToken !== undefined) throw new TypeError('IpcClient: set token or getToken, not both')
    this.options = options
    this.backoff = options.reconnect === false ? false : { ...backoffDefaults, ...options.reconnect }
    this.callTimeoutMs = options.callTimeoutMs ?? 10000
    this.queue = new SendQueue(options.queue?.max ?? 100, options.queue?.timeoutMs ?? 10000)
    this.idempotent = new Set(options.idempotentMethods ?? [])
  }

  get state (): ClientState { return this.current }
  /** null until authenticated (and while disconnected) */
  get connectionId (): string | null { return this.session?.connectionId ?? null }
  get userId (): string | null { return this.session?.userId ?? null }
  /** expiry of the current token (epoch ms, server clock), null when it does not expire or before auth */
  get expiresAt (): number | null { return this.session?.expiresAt ?? null }

  /** Resolves once connected and authenticated; rejects when the client closes first (bad token, close()). */
  async connect (): Promise<void> {
    if (this.current === 'open') return
    if (this.ready === null) {
      let resolve!: () => void
      let reject!: (err: IpcError) => void
      const promise = new Promise<void>((res, rej) => { resolve = res; reject = rej })
      this.ready = { promise, resolve, reject }
    }
    if (this.current === 'closed') {
      this.attempts = this.authFailures = this.tokenFailures = 0
      this.setState('connecting')
      void this.attempt()
    }
    await this.ready.promise
  }

  /** Calls a method. While disconnected the call waits in the queue; errors are IpcErrors. */
  async call<R = unknown> (method: string, params?: object, options: CallOptions = {}): Promise<R> {
    const { signal } = options
    signal?.throwIfAborted()
    if (this.current === 'open') return await this.request(method, params, options) as R
    if (this.current === 'closed') throw unavailable('The client is closed (call connect() first)')
    return await new Promise<R>((resolve, reject) => {
      const onAbort = (): void => {
        waiting.cancel()
        reject(signal!.reason)
      }
      const waiting = this.queue.add(() => {
        signal?.removeEventListener('abort', onAbort)
        this.request(method, params, options).then(r => resolve(r as R), reject)
      }, err => {
        signal?.removeEventListener('abort', onAbort)
        reject(err)
      })
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  /** Sends a notification (never answered). Best effort: while disconnected it waits in the queue, or is dropped. */
  notify (method: string, params?: object): void {
    if (this.current === 'open') this.send(frame(undefined, method, params))
    else if (this.current !== 'closed') {
      try {
        this.queue.add(() => this.send(frame(undefined, method, params)), () => {})
      } catch {
        // queue full: dropped, as documented
      }
    }
  }

  /** Listens to an event; returns the function that stops listening. */
  on<T = any> (event: string, handler: EventHandler<T>): () => void {
    this.events.on(event, handler)
    return () => this.events.off(event, handler)
  }

  off (event: string, handler: EventHandler): void {
    this.events.off(event, handler)
  }

  /** Listens to state changes; `error` says why the client closed, unless close() closed it. */
  onStateChange (listener: StateListener): () => void {
    this.stateListeners.add(listener)
    return () => this.stateListeners.delete(listener)
  }

  /**
   * Listens to what each reconnect recovered: once per joined room and for the user, `recovered`
   * says whether every event missed while disconnected follows; when false (the target keeps no
   * history, or it no longer holds them), refetch that target's state. Returns the function that
   * stops listening.
   */
  onRecovery (listener: RecoveryListener): () => void {
    this.recoveryListeners.add(listener)
    return () => this.recoveryListeners.delete(listener)
  }

  /** Joins a room; the client joins it again after every reconnect, recovering what it missed. */
  async join (room: string): Promise<JoinResult> {
    const result = await this.call<JoinResult>('rpc.join', { room })
    if (!this.rooms.has(room)) this.positions.set(`room:${room}`, result)
    this.rooms.add(room)
    return result
  }

  async leave (room: string): Promise<{ room: string }> {
    this.rooms.delete(room)
    this.positions.forget(`room:${room}`)
    return await this.call<{ room: string }>('rpc.leave', { room })
  }

  async presence (params: { room: string } | { users: string[] }): Promise<PresenceResult> {
    return await this.call<PresenceResult>('rpc.presence', params)
  }

  /** Closes the connection, fails whatever is pending or queued, and clears every timer. */
  async close (): Promise<void> {
    if (this.current !== 'closed') await this.stop(unavailable('The client was closed'), false)
  }

  // One connection attempt: a socket, then authenticate() on open. Failures go to retry().
  private async attempt (): Promise<void> {
    const epoch = this.epoch
    let ws: WebSocketLike
    try {
      const WebSocket = await resolveWebSocket(this.options.WebSocket)
      if (epoch !== this.epoch) return
      ws = new WebSocket(this.options.url)
    } catch (err) {
      if (epoch === this.epoch) this.retry(unavailable(`Could not connect: ${(err as Error).message}`))
      return
    }
    this.ws = ws
    this.lastSeen = performance.now()
    ws.onopen = () => { void this.authenticate(ws) }
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return
      this.lastSeen = performance.now()
      if (typeof ev.data === 'string') this.receive(ev.data)
    }
    // The ws package (Node) exposes the server's pings, which prove the connection alive too; browsers hide them.
    const emitter = ws as { on?: (event: string, listener: () => void) => unknown }
    if (typeof emitter.on === 'function') emitter.on('ping', () => { if (this.ws === ws) this.lastSeen = performance.now() })
    ws.onclose = (ev) => { if (this.ws === ws) this.lost(ev.code, ev.reason) }
    // A close event always follows an error one; the close code says what happened.
    ws.onerror = () => {}
  }

  // getToken is asked only once a socket is open, so a gateway that is down costs the token issuer nothing.
  private async authenticate (ws: WebSocketLike): Promise<void> {
    let token: string | undefined
    try {
      token = this.options.getToken !== undefined ? await this.options.getToken() : this.options.token
    } catch (err) {
      if (this.ws === ws) this.tokenFailed(err)
      return
    }
    if (this.ws !== ws) return
    this.tokenFailures = 0
    const reports: Array<{ target: string, recovered: boolean }> = []
    try {
      if (token !== undefined) {
        const user = this.lastUserId === null ? undefined : `user:${this.lastUserId}`
        const session = this.session = await this.request('rpc.auth', this.recovering({ token }, user, reports)) as AuthResult
        this.track(`user:${session.userId}`, session, reports)
        this.lastUserId = session.userId
        this.authFailures = 0
        this.scheduleRefresh()
      }
      await Promise.all([...this.rooms].map(async room => {
        const target = `room:${room}`
        await this.request('rpc.join', this.recovering({ room }, target, reports)).then(answer => this.track(target, answer as JoinResult, reports), (err: unknown) => {
          // No longer allowed in: forget it; any other failure is the connection's, handled by lost().
          if (err instanceof IpcError && err.code === ErrorCode.PERMISSION_DENIED) {
            this.rooms.delete(room)
            this.positions.forget(target)
          }
        })
      }))
    } catch (err) {
      if (this.ws !== ws) return
      const error = err instanceof IpcError ? err : unavailable(`Could not authenticate: ${(err as Error).message}`)
      this.detach(error)
      if (error.code === ErrorCode.UNAUTHENTICATED) this.rejected(error)
      else this.retry(error)
      return
    }
    if (this.ws !== ws) return
    for (const report of reports) for (const listener of [...this.recoveryListeners]) guard(() => listener(report))
    // Calls with an idempotency key that the lost connection left unanswered: the gateway answers them from their one run.
    for (const text of this.pending.resendable()) this.send(text)
    this.attempts = 0
    this.watch(ws)
    this.setState('open')
    this.queue.flush()
    this.ready?.resolve()
    this.ready = null
  }

  // The params of a reconnect's rpc.auth or rpc.join: with `recover` from the last position of a target
  // that keeps history. Every target asked again is reported once the answers came (see track).
  private recovering (params: Record<string, unknown>, target: string | undefined, reports: Array<{ target: string, recovered: boolean }>): Record<string, unknown> {
    if (target === undefined) return params
    const report = { target, recovered: false }
    reports.push(report)
    const from = this.options.recover === false ? undefined : this.positions.get(target)
    return from === undefined ? params : { ...params, recover: from }
  }

  // After a join or auth answer: recovered, the replayed events move the position on; otherwise the
  // answer's position is where the client is now (nothing will fill the gap: the report says so).
  private track (target: string, answer: JoinResult | AuthResult, reports: Array<{ target: string, recovered: boolean }>): void {
    const report = reports.find(r => r.target === target)
    if (report !== undefined && answer.recovered === true) {
      report.recovered = true
      return
    }
    this.positions.set(target, answer)
  }

  private lost (code: number, reason: string): void {
    const info = { closeCode: code, reason }
    this.detach(unavailable('Connection lost', info))
    if (code === CloseCode.TOKEN_EXPIRED) {
      if (this.options.getToken !== undefined) this.retry(unavailable('Token expired', info))
      else void this.stop(new IpcError(ErrorCode.UNAUTHENTICATED, 'Token expired, and there is no getToken to get a new one', info))
    } else if (code === CloseCode.AUTH_TIMEOUT) {
      this.rejected(new IpcError(ErrorCode.UNAUTHENTICATED, 'Not authenticated in time', info))
    } else if (code === CloseCode.POLICY) {
      this.rejected(new IpcError(ErrorCode.PERMISSION_DENIED, `Closed by the server: ${reason || 'policy violation'}`, info))
    } else {
      this.retry(unavailable('Connection lost', info))
    }
  }

  // A refused token is worth one more try only with a fresh one from getToken; a second refusal in a row is final.
  private rejected (err: IpcError): void {
    if (this.options.getToken !== undefined && ++this.authFailures < 2) this.retry(err)
    else void this.stop(err)
  }

  // A failing getToken (endpoint down, or not configured right) is reported at once rather than retried
  // silently, and retried only a few times in a row: then the client ends with that error.
  private tokenFailed (cause: unknown): void {
    const message = cause instanceof Error ? cause.message : String(cause)
    const error = new IpcError(ErrorCode.UNAUTHENTICATED, `getToken failed: ${message}`, cause, { cause })
    this.detach(error)
    if (++this.tokenFailures >= (this.options.maxTokenFailures ?? 3)) void this.stop(error)
    else this.retry(error, true)
  }

  // `report`: tell state listeners why, even when already reconnecting.
  private retry (err: IpcError, report = false): void {
    const policy = this.backoff
    if (policy === false) {
      void this.stop(err)
      return
    }
    if (this.attempts >= policy.maxAttempts) {
      void this.stop(unavailable(`Gave up after ${this.attempts} reconnect attempts: ${err.message}`, err.data))
      return
    }
    this.setState('reconnecting', report ? err : undefined)
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      void this.attempt()
    }, backoffDelay(this.attempts++, policy))
  }

  // Forgets the current socket and its session; its unanswered requests fail with `err`.
  private detach (err: IpcError): void {
    const ws = this.ws
    this.ws = null
    this.session = null
    clearTimeout(this.refreshTimer)
    this.refreshTimer = undefined
    clearTimeout(this.watchdogTimer)
    this.watchdogTimer = undefined
    this.pending.lose(err)
    if (ws !== null) void closeSocket(ws)
  }

  private async stop (err: IpcError, report = true): Promise<void> {
    this.epoch++
    clearTimeout(this.retryTimer)
    this.retryTimer = undefined
    const ws = this.ws
    this.ws = null
    this.detach(err)
    this.pending.failAll(err)
    this.queue.failAll(err)
    this.ready?.reject(err)
    this.ready = null
    this.setState('closed', report ? err : undefined)
    if (ws !== null) await closeSocket(ws)
  }

  // A connection that died without a FIN (sleep, NAT or proxy dropping the flow) never fires close, so
  // silence is the only sign: after idleTimeoutMs without a frame, send rpc.ping; when pingTimeoutMs more
  // pass without any frame, end the socket and reconnect like any lost connection. Frames only stamp
  // lastSeen; this one timer re-checks it, so activity costs no timer churn.
  private watch (ws: WebSocketLike): void {
    const heartbeatMs = this.session?.heartbeatMs ?? DEFAULT_HEARTBEAT_MS
    const idleMs = this.options.idleTimeoutMs ?? heartbeatMs
    if (!(idleMs > 0)) return
    const pingTimeoutMs = this.options.pingTimeoutMs ?? Math.min(heartbeatMs, MAX_PING_TIMEOUT_MS)
    let pingedAt: number | null = null
    const check = (): void => {
      this.watchdogTimer = undefined
      if (this.ws !== ws) return
      const now = performance.now()
      if (pingedAt !== null && this.lastSeen < pingedAt) {
        if (now - pingedAt < pingTimeoutMs) {
          arm(pingedAt + pingTimeoutMs - now)
          return
        }
        // terminate() (ws) ends the socket now; a browser's close() may wait on the dead peer, which lost() does not need.
        const dead = ws as { terminate?: () => void }
        dead.terminate?.()
        this.lost(1006, `No answer to rpc.ping within ${pingTimeoutMs} ms`)
        return
      }
      pingedAt = null
      const idle = now - this.lastSeen
      if (idle < idleMs) {
        arm(idleMs - idle)
        return
      }
      pingedAt = now
      // Sent without a pending entry: any frame answers it, and its own response is ignored as a late one.
      this.send(frame(this.nextId++, 'rpc.ping', {}))
      arm(pingTimeoutMs)
    }
    const arm = (ms: number): void => { this.watchdogTimer = setTimeout(check, Math.min(MAX_TIMER_MS, ms)) }
    clearTimeout(this.watchdogTimer)
    check()
  }

  // Renews the token 30 s before it expires (at 80% of a shorter life). A delay past the timer limit
  // fires early, which only renews early.
  private scheduleRefresh (): void {
    clearTimeout(this.refreshTimer)
    const expiresAt = this.session?.expiresAt ?? null
    if (this.options.getToken === undefined || expiresAt === null) return
    const life = expiresAt - Date.now()
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, life - REFRESH_MARGIN_MS, life * 0.8))
    this.refreshTimer = setTimeout(() => { void this.refresh() }, delay)
  }

  private async refresh (): Promise<void> {
    this.refreshTimer = undefined
    const ws = this.ws
    try {
      const token = await this.options.getToken!()
      if (ws === null || this.ws !== ws) return
      const session = await this.request('rpc.auth', { token }) as AuthResult
      if (this.ws !== ws) return
      this.session = session
      this.scheduleRefresh()
    } catch {
      // Nothing to do: at expiry the server closes with 4003, and the reconnect asks getToken again.
    }
  }

  private async request (method: string, params: object | undefined, { timeoutMs = this.callTimeoutMs, signal, onProgress, idempotencyKey }: CallOptions = {}): Promise<unknown> {
    const id = this.nextId++
    const key = idempotencyKey === true || (idempotencyKey === undefined && this.idempotent.has(method)) ? newIdempotencyKey() : idempotencyKey
    const text = frame(id, method, params, key)
    const answer = this.pending.add(id, timeoutMs, signal, onProgress, key === undefined ? undefined : text)
    this.send(text)
    return await answer
  }

  private send (text: string): void {
    // A socket that is closing drops the frame; its close event then fails the request.
    this.ws?.send(text)
  }

  private receive (text: string): void {
    let msg: unknown
    try {
      msg = JSON.parse(text)
    } catch {
      return
    }
    for (const f of (Array.isArray(msg) ? msg : [msg]) as Array<Frame | null>) {
      if (f === null || typeof f !== 'object') continue
      if (f.method === 'rpc.event') {
        if (f.params !== undefined) {
          this.positions.seen(f.params as unknown as EventParams)
          this.events.emit(f.params as unknown as EventParams)
        }
      }
      else if (f.method === 'rpc.progress') {
        const { id, data } = f.params ?? {}
        if (typeof id === 'number') guard(() => this.pending.progress(id, data))
      }
      // Our ids are numbers; an error with id null is about a frame this client never sends.
      else if (typeof f.id === 'number') {
        if (f.error !== undefined) this.pending.reject(f.id, IpcError.from(f.error))
        else this.pending.resolve(f.id, f.result)
      }
    }
  }

  private setState (state: ClientState, err?: IpcError): void {
    // A reconnecting client still reports each error it is given (a getToken failure on a later attempt).
    if (state === this.current && (state !== 'reconnecting' || err === undefined)) return
    this.current = state
    for (const listener of [...this.stateListeners]) guard(() => listener(state, err))
  }
}

function frame (id: number | undefined, method: string, params: object | undefined, idempotencyKey?: string): string {
  return JSON.stringify({ jsonrpc: '2.0', id, method, params, idempotencyKey })
}

