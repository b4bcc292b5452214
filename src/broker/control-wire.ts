// The control channel and the revocation keys on Redis (docs/protocol.md §9 Control), written the
// same way by the gateway's broker and by the publishers of src/worker/.
import type { Cluster, Redis } from 'ioredis'
import type { ControlCommand } from '../protocol/control.js'
import type { Keys } from './keys.js'

/**
 * Keeps the larger value and the longer expiry of a revocation key: a user's latest `before`, and
 * the revocation until the last of its tokens would have expired. One key, so Redis Cluster is fine.
 */
export const REVOKE_SCRIPT = `local cur = tonumber(redis.call('GET', KEYS[1]))
if cur == nil or tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL') end
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1`

/** Stores a revocation (until it expires), then tells every node: PUBLISH <prefix>control <json>. */
export async function sendControl (redis: Redis | Cluster, keys: Keys, cmd: ControlCommand): Promise<void> {
  if (cmd.op === 'revoke') {
    const ttl = cmd.expiresAt - Date.now()
    if (ttl > 0) {
      const key = cmd.jti !== undefined ? keys.revokedToken(cmd.jti) : keys.revokedUser(cmd.userId!)
      await redis.eval(REVOKE_SCRIPT, 1, key, cmd.jti !== undefined ? 0 : cmd.before!, ttl)
    }
  }
  await redis.publish(keys.control, JSON.stringify(cmd))
}
