// The gateway of one node: its connections, their dispatch, auth, rooms, event fan-out and drain.
// Fastify stays outside: routes hand it sockets, plugins/gateway.ts ties it to the app's lifecycle.
import type { FastifyBaseLogger } from 'fastify'
import type { WebSocket } from 'ws'
import { MemoryResults } from '../broker/memory-results.js'
import type { Broker, OutgoingEvent, PublishResult } from '../broker/types.js'
import type { HookFunctions, Identity, ResolvedOptions } from '../config.js'
import { invalidParams } from '../protocol/errors.js'
import { type MethodSpec, validationErrors, validators } from '../protocol/frames.js'
import { withTimeout } from '../timeout.js'
import type { IpcApi } from './api.js'
import { type Authenticator, sameSecret } from './auth.js'
import { Admin } from './admin.js'
import { Builtins } from './builtins.js'
import { Connection } from './connection.js'
import { Control } from './control.js'
import { Dispatcher } from './dispatcher.js'
import { Hooks } from './hooks.js'
import { Hub } from './hub.js'
import { Idempotency } from './idempotency.js'
import { Interceptors } from './interceptors.js'
import type { Metrics } from './metrics.js'
import { type Handler, Registry } from './registry.js'
import { RequestLog } from './request-log.js'
import { CallTracing } from './tracing.js'

export type GatewayOptions = ResolvedOptions & HookFunctions

export interface GatewayDeps {
  options: GatewayOptions
  broker: Broker
  metrics: Metrics
  log: FastifyBaseLogger
  auth: Authenticator
  /** the version rpc.discover and /openrpc.json report */
  version: string
}

/** Where a socket comes from: its peer's address and, when the upgrade carried a token, who it is. */
export interface Peer {
  ip: string
  identity?: Identity
}

/** how long a closing node waits for its last presence updates */
const FLUSH_MS = 2000
const drainTimedOut = (ms: number): Error => new Error(`requests still in flight after ${ms} ms`)
const noRemoteMethods: ReadonlyMap<string, MethodSpec> = new Map()

export class Gateway {
  readonly options: GatewayOptions
  readonly broker: Broker
  readonly metrics: Metrics
  /** `app.ipc` */
  readonly api: IpcApi
  /** the admin page's counters and questions (docs/protocol.md §10) */
  readonly admin: Admin
  private readonly registry: Registry
  private readonly hub: Hub
  private readonly hooks: Hooks
  private readonly control: Control
  private readonly dispatcher: Dispatcher
  private readonly auth: Authenticator
  private readonly log: FastifyBaseLogger
  private readonly version: string
  private readonly removed = (conn: Connection): void => {
    this.hub.remove(conn)
    if (conn.identity !== null) this.hooks.disconnected(conn)
  }

  constructor ({ options, broker, metrics, log, auth, version }: GatewayDeps) {
    this.options = options
    this.broker = broker
    this.metrics = metrics
    this.auth = auth
    this.log = log
    this.version = version
    const catalog = broker.catalog
    const rpc = broker.rpc ?? null
    this.hooks = new Hooks({ options, rpc, lifecycle: broker.lifecycle, nodeId: broker.nodeId, log, draining: () => this.hub.draining })
    this.registry = new Registry(catalog === undefined ? () => noRemoteMethods : () => catalog.remoteMethods(), new Set(this.hooks.methods))
    this.hub = new Hub(broker.presence, broker.events, options, metrics, log)
    if (options.presenceEventRooms.length > 0) {
      const data = { type: 'object', properties: { room: { type: 'string' }, userId: { type: 'string' } }, required: ['room', 'userId'] }
      this.registry.event('presence.join', { description: 'a user\'s first connection joined the room (docs/protocol.md §4)', data })
      this.registry.event('presence.leave', { description: 'a user\'s last connection left the room (docs/protocol.md §4)', data })
    }
    const control = this.control = new Control({ hub: this.hub, bus: broker.control, options, log, membership: this.hooks })
    const admit = control.admit.bind(control)
    const builtins = new Builtins({ options, auth, admit, hub: this.hub, hooks: this.hooks, broker, registry: this.registry, version })
    const publish = this.publish.bind(this)
    this.admin = new Admin({ hub: this.hub, broker, registry: this.registry, options, log })
    const interceptors = new Interceptors()
    this.dispatcher = new Dispatcher({
      options, registry: this.registry, builtins, hub: this.hub, rpc, interceptors, nodeId: broker.nodeId, metrics, stats: this.admin.stats, log, publish,
      idempotency: new Idempotency(broker.results ?? new MemoryResults(), options.resultTtlMs),
      tracing: options.tracing ? new CallTracing(version) : null,
      requestLog: new RequestLog(options.requestLogSampleRate, log, broker.requestLog ?? null)
    })
    this.api = {
      nodeId: broker.nodeId,
      use: fn => interceptors.add(fn),
      method: (name, options, handler) => this.registry.define(name, options, handler as Handler),
      event: (name, spec) => this.registry.event(name, spec),
      publish,
      subscribe: async target => await control.subscribe(target),
      unsubscribe: async target => await control.unsubscribe(target),
      disconnect: async target => await control.disconnect(target),
      revoke: async revocation => await control.revoke(revocation),
      openrpc: () => this.openrpc()
    }
  }

  /** Starts the broker with this gateway as its listener, and the heartbeat. */
  async start (): Promise<void> {
    const { broker, hub, metrics, registry } = this
    await broker.start({
      event: ev => {
        hub.deliver(ev)
        if (ev.publishedAt !== undefined) metrics.eventLag.observe(Math.max(0, Date.now() - ev.publishedAt) / 1000)
      },
      catalog: () => registry.reload(),
      state: up => {
        metrics.brokerUp.set(up ? 1 : 0)
        // revocations sent while this node could not hear them: its connections are checked again
        if (up) void this.control.recheck()
      },
      control: cmd => this.control.apply(cmd),
      connectionsOf: userId => this.admin.localConnections(userId)
    })
    registry.reload()
    hub.start()
    this.admin.start()
  }

  /** true once drain() began: new sockets and requests are refused */
  get draining (): boolean {
    return this.hub.draining
  }

  /** this node's open connections, by id */
  get connections (): ReadonlyMap<string, Connection> {
    return this.hub.connections
  }

  /** whether this node can take traffic: its broker reachable, and not draining */
  ready (): { broker: 'up' | 'down', draining: boolean } {
    return { broker: this.broker.health?.isUp() === false ? 'down' : 'up', draining: this.hub.draining }
  }

  /**
   * The identity of an upgrade's `Authorization` header, checked before the socket exists; throws
   * -32001 (counted as a refused connection) for a bad one.
   */
  async identify (authorization: string): Promise<Identity> {
    try {
      return await this.auth.authenticateHeader(authorization)
    } catch (err) {
      this.metrics.rejected.inc({ reason: 'unauthenticated' })
      throw err
    }
  }

  /** identify(), and the token must not be revoked (docs/protocol.md §2): what an upgrade's header goes through. */
  async authorize (authorization: string): Promise<Identity> {
    const identity = await this.identify(authorization)
    try {
      await this.control.admit(identity)
    } catch (err) {
      this.metrics.rejected.inc({ reason: 'unauthenticated' })
      throw err
    }
    return identity
  }

  /**
   * Whether a request's `Authorization` header opens the admin page: `Bearer <adminKey>`, or a JWT
   * (not revoked) whose `roles` hold `adminRole` (docs/protocol.md §10). Refusals are not counted
   * as refused connections.
   */
  async isAdmin (authorization: string | undefined): Promise<boolean> {
    const { adminKey, adminRole } = this.options
    const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1]
    if (token === undefined) return false
    if (adminKey !== undefined && sameSecret(token, adminKey)) return true
    if (adminRole === undefined) return false
    try {
      const identity = await this.auth.authenticate(token)
      if (identity.kind !== 'user' || !identity.roles.includes(adminRole)) return false
      await this.control.admit(identity)
      return true
    } catch {
      return false
    }
  }

  /**
   * Takes an open WebSocket: answers its frames from now on, and closes it with 4029 over a
   * connection cap. Without an identity the socket has authTimeoutMs to call rpc.auth.
   */
  open (socket: WebSocket, peer: Peer): Connection | null {
    const conn = new Connection(socket, peer.ip, this.options, this.metrics, this.removed)
    // Listen before anything awaits: frames that arrive meanwhile would be lost.
    socket.on('message', (data, isBinary) => this.dispatcher.message(conn, data, isBinary))
    if (!this.hub.add(conn)) return null
    if (peer.identity === undefined) conn.awaitAuth()
    else if (this.hub.authenticate(conn, peer.identity)) this.hooks.connected(conn)
    return conn
  }

  /** sends an event to `user:<id>`, `room:<name>`, `conn:<id>` or `all`, on every node */
  async publish (event: OutgoingEvent): Promise<PublishResult> {
    if (!validators.publish.Check(event)) throw invalidParams('Invalid event', { errors: validationErrors(validators.publish, event) })
    return await this.broker.events.publish(event)
  }

  openrpc (): Record<string, unknown> {
    return this.registry.openrpc(this.version)
  }

  /**
   * Refuses new sockets, tells every connection to go over `drainSpreadMs` (each refuses new
   * requests with -32050 and closes with 1001 once its requests in flight are answered), then waits
   * up to `ms` for the last answers and closes whatever is left with 1001.
   */
  async drain (ms: number): Promise<void> {
    this.hub.draining = true
    await this.hub.dismiss(this.options.drainSpreadMs)
    await withTimeout(this.hub.settled(), ms, drainTimedOut).catch((err: Error) => this.log.warn(err.message))
    this.hub.closeAll()
  }

  /** Stops the heartbeat and the broker; call after drain(). */
  async close (): Promise<void> {
    this.hub.stop()
    this.admin.stop()
    // the last connections' presence.leave events go out before the broker closes
    await withTimeout(this.hub.flushed(), FLUSH_MS, () => new Error('presence updates still under way')).catch((err: Error) => this.log.warn(err.message))
    await this.broker.close()
  }
}
