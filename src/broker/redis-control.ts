// Server-side control across nodes (docs/protocol.md §9 Control): commands go out with PUBLISH on a
// channel of their own, which every node subscribes to; revocations are stored first, each in a key
// that expires when its tokens would have, so a node started later still refuses them. A node
// also remembers the revocations it heard, and uses them alone while Redis is unreachable.
import type { FastifyBaseLogger } from 'fastify'
import { type ControlCommand, covers, parseCommand, type TokenClaims } from '../protocol/control.js'
import { ErrorCode, RpcError } from '../protocol/errors.js'
import { sendControl } from './control-wire.js'
import type { Keys } from './keys.js'
import type { RedisClient } from './redis-link.js'
import { RevocationList } from './revocations.js'
import type { ControlBus } from './types.js'

export class RedisControl implements ControlBus {
  private readonly heard = new RevocationList()
  private warned = false

  constructor (
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly isUp: () => boolean,
    private readonly apply: (cmd: ControlCommand) => void,
    private readonly log: FastifyBaseLogger
  ) {}

  async send (cmd: ControlCommand): Promise<void> {
    if (!this.isUp()) throw new RpcError(ErrorCode.UNAVAILABLE, 'Unavailable: Redis is unreachable')
    try {
      await sendControl(this.redis, this.keys, cmd)
    } catch {
      throw new RpcError(ErrorCode.UNAVAILABLE, 'Unavailable: Redis is unreachable')
    }
  }

  /** A message of the control channel, from any node or publisher. */
  receive (text: string): void {
    const cmd = parseCommand(text)
    if (cmd === null) {
      if (!this.warned) this.log.warn({ message: text.slice(0, 200) }, 'ignoring a message of the control channel that is not a command')
      this.warned = true
      return
    }
    if (cmd.op === 'revoke') this.heard.add(cmd)
    this.apply(cmd)
  }

  async revoked (token: TokenClaims): Promise<boolean> {
    if (this.heard.covers(token)) return true
    if (!this.isUp()) return false
    try {
      const [before, jti] = await Promise.all([
        this.redis.get(this.keys.revokedUser(token.userId)),
        typeof token.jti === 'string' ? this.redis.exists(this.keys.revokedToken(token.jti)) : 0
      ])
      return jti === 1 || (before !== null && covers({ userId: token.userId, before: Number(before) }, token))
    } catch {
      // Redis failed between the breaker's probes: the token stands, as while Redis is down.
      return false
    }
  }
}
