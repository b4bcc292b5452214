// Turns a bearer token (JWT or API key) into an Identity, or refuses it with -32001.
import { createHash, timingSafeEqual } from 'node:crypto'
import type { Identity } from '../config.js'
import { ErrorCode, RpcError } from '../protocol/errors.js'

/** a token's claims, or a throw saying why it is refused (a JWKS verifier answers asynchronously) */
export type JwtVerify = (token: string) => Record<string, unknown> | Promise<Record<string, unknown>>

export class Authenticator {
  private readonly keys: Array<{ name: string, digest: Buffer }>

  constructor (private readonly verifyJwt: JwtVerify | null, apiKeys: Record<string, string> = {}) {
    this.keys = Object.entries(apiKeys).map(([name, key]) => ({ name, digest: sha256(key) }))
  }

  async authenticate (token: string): Promise<Identity> {
    const apiKey = this.apiKey(token)
    if (apiKey !== null) {
      return { kind: 'service', userId: `service:${apiKey}`, roles: ['service'], rooms: ['*'], claims: {}, expiresAt: null }
    }
    if (this.verifyJwt === null) throw new RpcError(ErrorCode.UNAUTHENTICATED, 'No JWT secret or key is configured')
    let claims: Record<string, unknown>
    try {
      claims = await this.verifyJwt(token)
    } catch (err) {
      throw new RpcError(ErrorCode.UNAUTHENTICATED, `Invalid token: ${(err as Error).message}`)
    }
    const sub = claims.sub
    if ((typeof sub !== 'string' || sub === '') && typeof sub !== 'number') {
      throw new RpcError(ErrorCode.UNAUTHENTICATED, 'Invalid token: no "sub" claim')
    }
    return {
      kind: 'user',
      userId: String(sub),
      roles: strings(claims.roles),
      rooms: strings(claims.rooms),
      claims,
      expiresAt: typeof claims.exp === 'number' ? claims.exp * 1000 : null
    }
  }

  /** The identity of an `Authorization` header, which must be `Bearer <token>`. */
  async authenticateHeader (header: string): Promise<Identity> {
    const match = /^Bearer\s+(\S+)$/i.exec(header)
    if (match === null) throw new RpcError(ErrorCode.UNAUTHENTICATED, 'Authorization header must be "Bearer <token>"')
    return await this.authenticate(match[1])
  }

  /** the name of the API key, compared in constant time against every configured key */
  private apiKey (token: string): string | null {
    if (this.keys.length === 0) return null
    const digest = sha256(token)
    let found: string | null = null
    for (const key of this.keys) {
      if (timingSafeEqual(digest, key.digest)) found = key.name
    }
    return found
  }
}

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest()

/** whether two secrets are equal, compared in constant time (by SHA-256 digest, so lengths leak nothing) */
export const sameSecret = (a: string, b: string): boolean => timingSafeEqual(sha256(a), sha256(b))
const strings = (v: unknown): string[] => Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []

export { matchesRoom } from '../rooms.js'
