// The revocations a node has heard of, each until its tokens would have expired anyway: what the
// memory broker keeps, and what the Redis broker still knows while Redis is unreachable.
import { type ControlCommand, covers, type TokenClaims } from '../protocol/control.js'

type Revocation = Extract<ControlCommand, { op: 'revoke' }>

export class RevocationList {
  /** `user:<id>` or `jti:<jti>` -> the revocation (for a user, the latest `before`), oldest first */
  private readonly entries = new Map<string, Revocation>()
  /** expired entries are dropped when the list has grown to this size */
  private pruneAt = 1024

  /** `limit`: the most kept, the oldest dropped first (a cache of what a store keeps in full) */
  constructor (private readonly limit = Infinity) {}

  add (r: Revocation, now = Date.now()): void {
    const key = r.jti !== undefined ? `jti:${r.jti}` : `user:${r.userId!}`
    const had = this.entries.get(key)
    this.entries.delete(key) // re-inserted as the newest
    this.entries.set(key, had === undefined
      ? r
      : { ...r, before: Math.max(had.before ?? 0, r.before ?? 0), expiresAt: Math.max(had.expiresAt, r.expiresAt) })
    if (this.entries.size >= this.pruneAt) {
      for (const [k, e] of this.entries) if (e.expiresAt <= now) this.entries.delete(k)
      this.pruneAt = Math.max(1024, this.entries.size * 2)
    }
    for (const k of this.entries.keys()) {
      if (this.entries.size <= this.limit) break
      this.entries.delete(k)
    }
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

  get size (): number {
    return this.entries.size
  }
}
