// The reserved `rpc.*` methods of docs/protocol.md §5.
import type { Broker, Position } from '../broker/types.js'
import type { Identity, ResolvedOptions } from '../config.js'
import { ErrorCode, RpcError, invalidParams, permissionDenied, unauthenticated } from '../protocol/errors.js'
import { validationErrors, validators } from '../protocol/frames.js'
import { namedParams } from '../protocol/params.js'
import { type Authenticator, matchesRoom } from './auth.js'
import type { Connection } from './connection.js'
import { Followed } from './follow.js'
import type { Hooks } from './hooks.js'
import type { Hub } from './hub.js'
import type { Registry } from './registry.js'

export interface BuiltinDeps {
  options: ResolvedOptions
  auth: Authenticator
  /** throws -32001 for a revoked token (docs/protocol.md §2) */
  admit: (identity: Identity) => Promise<void>
  hub: Hub
  hooks: Hooks
  broker: Broker
  registry: Registry
  version: string
}

type Params = Record<string, unknown>

/** The reserved methods of docs/protocol.md §5, each with its params' by-position order. */
const BUILTIN_PARAMS: ReadonlyMap<string, readonly string[]> = new Map([
  ['rpc.ping', []], ['rpc.auth', ['token', 'recover']], ['rpc.discover', []],
  ['rpc.join', ['room', 'recover']], ['rpc.leave', ['room']], ['rpc.presence', ['room']]
])

/** the reserved methods' names (metric labels are limited to these) */
export const BUILTINS: ReadonlySet<string> = new Set(BUILTIN_PARAMS.keys())

export class Builtins {
  constructor (private readonly deps: BuiltinDeps) {}

  /** Runs a built-in with its params by name or by position (docs/protocol.md §5 gives the order). */
  run (conn: Connection, method: string, given: Params | unknown[] | undefined): unknown {
    const params = namedParams(method, given, BUILTIN_PARAMS.get(method))
    switch (method) {
      case 'rpc.ping': return { time: Date.now() }
      case 'rpc.auth': return this.auth(conn, params)
      case 'rpc.discover':
        if (conn.identity === null && !this.deps.options.allowAnonymous) throw unauthenticated('Authenticate first (rpc.auth)')
        return this.deps.registry.openrpc(this.deps.version, conn.identity, this.deps.options.allowAnonymous)
    }
    if (conn.identity === null) throw unauthenticated('Authenticate first (rpc.auth)')
    switch (method) {
      case 'rpc.join': return this.join(conn, check(validators.join, params))
      case 'rpc.leave': return this.leave(conn, check(validators.room, params).room)
      case 'rpc.presence': return this.presence(conn, check(validators.presence, params))
    }
    throw new RpcError(ErrorCode.METHOD_NOT_FOUND, `Method not found: ${method}`)
  }

  private async auth (conn: Connection, params: Params): Promise<unknown> {
    const { token, recover } = check(validators.auth, params)
    const identity = await this.deps.auth.authenticate(token)
    await this.deps.admit(identity)
    if (conn.identity !== null && conn.identity.userId !== identity.userId) {
      throw permissionDenied('A refreshed token must be for the same user')
    }
    const first = conn.state === 'pending'
    const result = {
      connectionId: conn.id,
      userId: identity.userId,
      node: this.deps.broker.nodeId,
      expiresAt: identity.expiresAt,
      heartbeatMs: this.deps.options.heartbeatMs
    }
    const authenticate = (): void => {
      if (!this.deps.hub.authenticate(conn, identity)) throw new RpcError(ErrorCode.RATE_LIMITED, 'Too many connections')
      if (first) this.deps.hooks.connected(conn)
    }
    const target = `user:${identity.userId}`
    if (!this.deps.broker.events.keepsHistory(target)) {
      authenticate()
      return recover === undefined ? result : { ...result, recovered: false }
    }
    return await this.positioned(conn, target, recover, result, async () => {
      authenticate()
      await conn.watching
    })
  }

  private async join (conn: Connection, { room, recover }: { room: string, recover?: Position }): Promise<unknown> {
    const { options, hub } = this.deps
    const identity = conn.identity!
    if (!conn.rooms.has(room)) {
      if (conn.rooms.size >= options.maxRoomsPerConnection) {
        throw permissionDenied(`Room limit reached: at most ${options.maxRoomsPerConnection} rooms per connection`)
      }
      const allowed = matchesRoom(identity.rooms, room) || matchesRoom(options.publicRooms, room) ||
        await this.deps.hooks.canJoin(conn, room)
      if (!allowed) throw permissionDenied(`Not allowed to join room "${room}"`)
      // the hook may have taken a while: the connection may be gone meanwhile
      if (conn.state === 'closed') return { room }
    }
    const attach = async (): Promise<void> => {
      const member = conn.rooms.has(room)
      await hub.join(conn, room)
      if (!member) this.deps.hooks.joined(conn, room)
    }
    const target = `room:${room}`
    if (!this.deps.broker.events.keepsHistory(target)) {
      await attach()
      return recover === undefined ? { room } : { room, recovered: false }
    }
    return await this.positioned(conn, target, recover, { room }, attach)
  }

  /**
   * A join or auth of a history target: answers with the target's position (and whether the
   * recovery worked); the recovered events, then live ones held meanwhile, follow the answer.
   */
  private async positioned (conn: Connection, target: string, recover: Position | undefined, result: object, attach: () => Promise<void>): Promise<Followed> {
    const { recovery, after } = await this.deps.hub.position(conn, target, recover, attach)
    const answer = recovery === null ? result : { ...result, ...recovery.position }
    return new Followed(recover === undefined ? answer : { ...answer, recovered: recovery?.recovered ?? false }, after)
  }

  private async leave (conn: Connection, room: string): Promise<unknown> {
    if (!conn.rooms.has(room)) return { room }
    await this.deps.hub.leave(conn, room)
    this.deps.hooks.left(conn, room)
    return { room }
  }

  private async presence (conn: Connection, params: { room: string } | { users: string[] }): Promise<unknown> {
    const presence = this.deps.broker.presence
    if ('users' in params) return { online: await presence.online(params.users) }
    if (!conn.rooms.has(params.room)) throw permissionDenied('Join the room before asking for its presence')
    const users = await presence.room(params.room)
    return { room: params.room, count: users.length, users }
  }
}

function check<T> (validator: { Check (v: unknown): v is T, Errors (v: unknown): Iterable<{ instancePath: string, message: string }> }, params: unknown): T {
  if (!validator.Check(params)) throw invalidParams('Invalid params', { errors: validationErrors(validator, params) })
  return params
}
