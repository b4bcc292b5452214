// The connection hooks of docs/protocol.md §5: canJoin, onConnect and onDisconnect, each served
// in-process (a function of the options) or by a worker method (joinMethod, connectMethod,
// disconnectMethod) called through the normal remote-call path under `hookTimeoutMs`, and the
// lifecycle stream's records (docs/protocol.md §9) when `lifecycleStream` is on.
import type { FastifyBaseLogger } from 'fastify'
import type { LifecycleLog, LifecycleRecord, RpcTransport } from '../broker/types.js'
import type { HookFunctions, ResolvedOptions } from '../config.js'
import { CloseCode, ErrorCode, RpcError } from '../protocol/errors.js'
import { callerOf } from './caller.js'
import type { Connection } from './connection.js'

export interface HookDeps {
  options: ResolvedOptions & HookFunctions
  /** null when the broker has no workers (then no hook method is configured: resolveOptions sees to it) */
  rpc: RpcTransport | null
  lifecycle: LifecycleLog | undefined
  nodeId: string
  log: FastifyBaseLogger
  /** true while the node shuts down: the disconnect hooks of its closing connections may then go unanswered */
  draining: () => boolean
}

type Policy = 'allow' | 'deny'

const ignore = (): void => {}

export class Hooks {
  private readonly lifecycle: LifecycleLog | undefined

  constructor (private readonly deps: HookDeps) {
    this.lifecycle = deps.options.lifecycleStream ? deps.lifecycle : undefined
  }

  /** The worker methods serving hooks: clients may not call them (-32601). */
  get methods (): string[] {
    const { joinMethod, connectMethod, disconnectMethod } = this.deps.options
    return [joinMethod, connectMethod, disconnectMethod].filter((m): m is string => m !== undefined)
  }

  /**
   * Whether an authenticated connection may join a room its token and publicRooms do not allow: the
   * in-process canJoin, else the joinMethod's answer (`true` allows; anything else, or -32003,
   * denies; a failure or no answer in time follows `joinHookFailure`), else no.
   */
  async canJoin (conn: Connection, room: string): Promise<boolean> {
    const { canJoin, joinMethod, joinHookFailure } = this.deps.options
    if (canJoin !== undefined) return await canJoin(conn.identity!, room) === true
    if (joinMethod === undefined) return false
    return await this.ask(joinMethod, conn, { room }, joinHookFailure, out => out === true)
  }

  /**
   * A connection authenticated for the first time: recorded, and told to onConnect or the
   * connectMethod in the background; `false` or -32003 closes it with 1008 (a failure or no answer
   * in time follows `connectHookFailure`).
   */
  connected (conn: Connection): void {
    this.record({ type: 'connect', ...this.who(conn) })
    const { onConnect, connectMethod, connectHookFailure } = this.deps.options
    let decided: Promise<boolean>
    if (onConnect !== undefined) {
      decided = (async () => await onConnect(conn.identity!, { connectionId: conn.id, ip: conn.ip }) !== false)()
        .catch(err => { if (refusal(err)) return false; throw err })
    } else if (connectMethod !== undefined) {
      decided = this.ask(connectMethod, conn, { ip: conn.ip }, connectHookFailure, out => out !== false)
    } else return
    decided.then(keep => {
      if (!keep) conn.close(CloseCode.POLICY, 'refused by the backend')
    }, (err: unknown) => {
      this.deps.log.error({ err, connectionId: conn.id }, 'onConnect failed: connection kept')
    })
  }

  /** An authenticated connection closed: recorded, and told to onDisconnect or the disconnectMethod, answer unawaited. */
  disconnected (conn: Connection): void {
    const rooms = [...conn.rooms]
    this.record({ type: 'disconnect', ...this.who(conn), rooms })
    const { onDisconnect, disconnectMethod } = this.deps.options
    if (onDisconnect !== undefined) {
      (async () => await onDisconnect(conn.identity!, { connectionId: conn.id, ip: conn.ip, rooms }))()
        .catch((err: unknown) => this.deps.log.error({ err, connectionId: conn.id }, 'onDisconnect failed'))
    } else if (disconnectMethod !== undefined) {
      // While the node drains its broker closes before slow answers come: the request reached Redis, that is all that can be said.
      this.remote(disconnectMethod, conn, { rooms }).catch((err: unknown) => {
        this.deps.log[this.deps.draining() ? 'debug' : 'warn']({ err, method: disconnectMethod, connectionId: conn.id }, 'disconnect hook failed')
      })
    }
  }

  joined (conn: Connection, room: string): void {
    this.record({ type: 'join', ...this.who(conn), room })
  }

  left (conn: Connection, room: string): void {
    this.record({ type: 'leave', ...this.who(conn), room })
  }

  private who (conn: Connection): { userId: string, connectionId: string } {
    return { userId: conn.identity?.userId ?? '', connectionId: conn.id }
  }

  private record (record: LifecycleRecord): void {
    this.lifecycle?.append(record).catch((err: unknown) => this.deps.log.warn({ err, record }, 'could not append to the lifecycle stream'))
  }

  /** A hook method's verdict: `allowed` of its answer, false on -32003, else the failure policy. */
  private async ask (method: string, conn: Connection, params: object, failure: Policy, allowed: (out: unknown) => boolean): Promise<boolean> {
    try {
      return allowed(await this.remote(method, conn, params))
    } catch (err) {
      if (refusal(err)) return false
      this.deps.log.warn({ err, method, connectionId: conn.id }, `hook ${method} failed: ${failure === 'allow' ? 'allowed' : 'denied'} by policy`)
      return failure === 'allow'
    }
  }

  private async remote (method: string, conn: Connection, params: object): Promise<unknown> {
    const { rpc, nodeId, options } = this.deps
    if (rpc === null) throw new RpcError(ErrorCode.UNAVAILABLE, 'No workers: this gateway serves in-process methods only')
    const caller = callerOf(conn.identity, conn.id, nodeId)
    return await rpc.call({ method, params, caller, deadline: Date.now() + options.hookTimeoutMs }, ignore)
  }
}

const refusal = (err: unknown): boolean => RpcError.of(err)?.code === ErrorCode.PERMISSION_DENIED
