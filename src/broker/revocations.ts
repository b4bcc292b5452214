// The revocations a node has heard of, each until its tokens would have expired anyway: what the
// memory broker keeps, and what the Redis broker still knows while Redis is unreachable.
import { type ControlCommand, covers, type TokenClaims } from '../protocol/control.js'

type Revocation = Extract<ControlCommand, { op: 'revoke' }>

export class RevocationList {
  /** `user:<id>` or `jti:<jti>` -> the revocation (for a user, the latest `before`) */
  private readonly entries = new Map<string, Revocation>()

  add (r: Revocation): void {
    const key = r.jti !== undefined ? `jti:${r.jti}` : `user:${r.userId!}`
    const had = this.entries.get(key)
    this.entries.set(key, had === undefined
      ? r
      : { ...r, before: Math.max(had.before ?? 0, r.before ?? 0), expiresAt: Math.max(had.expiresAt, r.expiresAt) })
  }

  covers (token: TokenClaims, now = Date.now()): boolean {
    for (const key of [`user:${token.userId}`, typeof token.jti === 'string' ? `jti:${token.jti}` : null]) {
      if (key === null) continue
      const r = this.entries.get(key)
      if (r === undefined) continue
      if (r.expiresAt <= now) this.entries.delete(key)
      else if (covers(r, token)) return true
    }
    return false
  }
}
