// The gateway of one node: its connections, their dispatch, auth, rooms, event fan-out and drain.
// Fastify stays outside: routes hand it sockets, plugins/gateway.ts ties it to the app's lifecycle.
import type { FastifyBaseLogger } from 'fastify'
import type { WebSocket } from 'ws'
import type { Broker, OutgoingEvent } from '../broker/types.js'
import type { CanJoin, Identity, ResolvedOptions } from '../config.js'
import { invalidParams } from '../protocol/errors.js'
import { type MethodSpec, validationErrors, validators } from '../protocol/frames.js'
import { withTimeout } from '../timeout.js'
import type { IpcApi } from './api.js'
import type { Authenticator } from './auth.js'
import { Builtins } from './builtins.js'
import { Connection } from './connection.js'
import { Dispatcher } from './dispatcher.js'
import { Hub } from './hub.js'
import type { Metrics } from './metrics.js'
import { type Handler, Registry } from './registry.js'
import { RequestLog } from './request-log.js'
import { CallTracing } from './tracing.js'

export type GatewayOptions = ResolvedOptions & { canJoin?: CanJoin }

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

const drainTimedOut = (ms: number): Error => new Error(`requests still in flight after ${ms} ms`)
const noRemoteMethods: ReadonlyMap<string, MethodSpec> = new Map()

export class Gateway {
  readonly options: GatewayOptions
  readonly broker: Broker
  readonly metrics: Metrics
  /** `app.ipc` */
  readonly api: IpcApi
  private readonly registry: Registry
  private readonly hub: Hub
  private readonly dispatcher: Dispatcher
  private readonly auth: Authenticator
  private readonly log: FastifyBaseLogger
  private readonly version: string
  private readonly removed = (conn: Connection): void => this.hub.remove(conn)

  constructor ({ options, broker, metrics, log, auth, version }: GatewayDeps) {
    this.options = options
    this.broker = broker
    this.metrics = metrics
    this.auth = auth
    this.log = log
    this.version = version
    const catalog = broker.catalog
    this.registry = new Registry(catalog === undefined ? () => noRemoteMethods : () => catalog.remoteMethods())
    this.hub = new Hub(broker.presence, options, metrics, log)
    const builtins = new Builtins({ options, auth, hub: this.hub, broker, registry: this.registry, version })
    const publish = this.publish.bind(this)
    this.dispatcher = new Dispatcher({
      options, registry: this.registry, builtins, hub: this.hub, rpc: broker.rpc ?? null, nodeId: broker.nodeId, metrics, log, publish,
      tracing: options.tracing ? new CallTracing(version) : null,
      requestLog: new RequestLog(options.requestLogSampleRate, log, broker.requestLog ?? null)
    })
    this.api = {
      nodeId: broker.nodeId,
      method: (name, options, handler) => this.registry.define(name, options, handler as Handler),
      event: (name, spec) => this.registry.event(name, spec),
      publish,
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
      state: up => metrics.brokerUp.set(up ? 1 : 0)
    })
    registry.reload()
    hub.start()
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
  identify (authorization: string): Identity {
    try {
      return this.auth.authenticateHeader(authorization)
    } catch (err) {
      this.metrics.rejected.inc({ reason: 'unauthenticated' })
      throw err
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
    else this.hub.authenticate(conn, peer.identity)
    return conn
  }

  /** sends an event to `user:<id>`, `room:<name>`, `conn:<id>` or `all`, on every node */
  async publish (event: OutgoingEvent): Promise<{ offset?: string }> {
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
    await this.broker.close()
  }
}
