// Server-side control (docs/protocol.md §2 Revocation, §10): subscribe, unsubscribe, disconnect and
// revoke, sent to every node on the broker's control channel and applied by each node to its own
// connections. Applying is idempotent: a user or connection this node does not hold is no error.
import type { FastifyBaseLogger } from 'fastify'
import type { ControlBus } from '../broker/types.js'
import type { Identity, ResolvedOptions } from '../config.js'
import {
  type ControlCommand, controlCommand, covers, DISCONNECT_CODE, type DisconnectBody, type RevokeBody,
  type SubscribeBody, type TokenClaims
} from '../protocol/control.js'
import { CloseCode, ErrorCode, RpcError } from '../protocol/errors.js'
import type { Connection } from './connection.js'
import type { Hub } from './hub.js'

export interface ControlDeps {
  hub: Hub
  bus: ControlBus
  options: Pick<ResolvedOptions, 'maxRoomsPerConnection'>
  log: FastifyBaseLogger
  /** told of each membership a command made or ended (the lifecycle stream's join and leave records) */
  membership?: { joined (conn: Connection, room: string): void, left (conn: Connection, room: string): void }
}

export class Control {
  constructor (private readonly deps: ControlDeps) {}

  /** Puts every connection of a user, or one connection, into a room, on whichever node it is. */
  async subscribe (body: SubscribeBody): Promise<void> {
    await this.deps.bus.send(controlCommand('subscribe', body))
  }

  async unsubscribe (body: SubscribeBody): Promise<void> {
    await this.deps.bus.send(controlCommand('unsubscribe', body))
  }

  /** Closes every connection of a user, or one connection, with `code` (4000) and `reason`. */
  async disconnect (body: DisconnectBody): Promise<void> {
    await this.deps.bus.send(controlCommand('disconnect', body))
  }

  /** Refuses a user's tokens issued before `before`, or one token by `jti`, and closes their connections with 4003. */
  async revoke (body: RevokeBody): Promise<void> {
    await this.deps.bus.send(controlCommand('revoke', body))
  }

  /** Throws -32001 when the token behind an identity was revoked; API keys are never revoked. */
  async admit (identity: Identity): Promise<void> {
    if (identity.kind !== 'user') return
    if (await this.deps.bus.revoked(claimsOf(identity))) throw new RpcError(ErrorCode.UNAUTHENTICATED, 'Invalid token: revoked')
  }

  /** Closes with 4003 this node's connections whose tokens were revoked: after an outage of the broker. */
  async recheck (): Promise<void> {
    await Promise.all([...this.deps.hub.connections.values()].map(async conn => {
      if (conn.state !== 'authenticated' || conn.identity === null) return
      try {
        await this.admit(conn.identity)
      } catch {
        conn.close(CloseCode.TOKEN_EXPIRED, 'token revoked')
      }
    }))
  }

  /** A command from any node, applied to this node's connections. */
  apply (cmd: ControlCommand): void {
    const { hub, log, options } = this.deps
    switch (cmd.op) {
      case 'subscribe':
        for (const conn of hub.select(cmd)) {
          if (conn.rooms.has(cmd.room)) continue
          if (conn.rooms.size >= options.maxRoomsPerConnection) {
            log.warn({ connectionId: conn.id, room: cmd.room }, 'server-side subscribe skipped: the connection is at maxRoomsPerConnection')
            continue
          }
          this.background(hub.join(conn, cmd.room))
          this.deps.membership?.joined(conn, cmd.room)
        }
        return
      case 'unsubscribe':
        for (const conn of hub.select(cmd)) {
          if (!conn.rooms.has(cmd.room)) continue
          this.background(hub.leave(conn, cmd.room))
          this.deps.membership?.left(conn, cmd.room)
        }
        return
      case 'disconnect':
        for (const conn of hub.select(cmd)) conn.close(cmd.code ?? DISCONNECT_CODE, closeReason(cmd.reason ?? 'disconnected'))
        return
      case 'revoke': {
        const conns: Iterable<Connection> = cmd.userId !== undefined ? hub.select({ userId: cmd.userId }) : hub.connections.values()
        for (const conn of [...conns]) {
          const identity = conn.identity
          if (conn.state === 'authenticated' && identity?.kind === 'user' && covers(cmd, claimsOf(identity))) {
            conn.close(CloseCode.TOKEN_EXPIRED, 'token revoked')
          }
        }
      }
    }
  }

  private background (p: Promise<void>): void {
    p.catch((err: unknown) => this.deps.log.debug({ err }, 'server-side subscription change failed'))
  }
}

const claimsOf = (identity: Identity): TokenClaims => ({ userId: identity.userId, iat: identity.claims.iat, jti: identity.claims.jti })

/** A close reason is at most 123 bytes of UTF-8: cut whole characters until it fits. */
function closeReason (reason: string): string {
  let r = reason
  while (Buffer.byteLength(r) > 123) r = r.slice(0, -1)
  return r
}
