// JWTs verified with the keys of a JWKS document (docs/protocol.md §2), through jose: the one place
// that touches it. jose caches the set, chooses the key by `kid` (and `alg`), and fetches again on
// an unknown `kid` at most once per cooldown. What it does not do is rate-limit failed fetches or
// keep the last good set when a refresh fails: both are done here, so an unreachable or broken
// JWKS endpoint costs one fetch per cooldown, never one per token, and keys known before still work.
import type { FastifyBaseLogger } from 'fastify'
import { createLocalJWKSet, createRemoteJWKSet, errors, type JWTVerifyGetKey, jwtVerify } from 'jose'
import type { JwtVerify } from './auth.js'

export interface JwksOptions {
  jwksUrl: string
  /** pinned: a token signed with another algorithm is refused */
  algorithms: string[]
  issuer?: string
  audience?: string
  /** least time between two fetches of the set */
  cooldownMs: number
}

// Errors of choosing a key in a set that was fetched fine: the token's fault, not the endpoint's.
const keyErrors = [errors.JWKSNoMatchingKey, errors.JWKSMultipleMatchingKeys, errors.JOSENotSupported, errors.JWSInvalid]
const fetchFailed = (err: unknown): boolean => !keyErrors.some(E => err instanceof E)

export function jwksVerifier ({ jwksUrl, algorithms, issuer, audience, cooldownMs }: JwksOptions, log: FastifyBaseLogger): JwtVerify {
  const remote = createRemoteJWKSet(new URL(jwksUrl), { cooldownDuration: cooldownMs })
  let retryAt = 0
  let stale: JWTVerifyGetKey | null = null
  const key: JWTVerifyGetKey = async (header, token) => {
    if (Date.now() < retryAt) {
      if (stale !== null) return await stale(header, token)
      throw new Error('signing keys unavailable (the JWKS endpoint failed; see the log)')
    }
    try {
      return await remote(header, token)
    } catch (err) {
      if (!fetchFailed(err)) throw err
      retryAt = Date.now() + cooldownMs
      const last = remote.jwks()
      stale = last === undefined ? null : createLocalJWKSet(last)
      log.warn({ url: jwksUrl, err: (err as Error).message, retryInMs: cooldownMs, keepingKnownKeys: stale !== null }, 'JWKS fetch failed: tokens are checked against the keys known before, if any')
      if (stale !== null) return await stale(header, token)
      throw new Error(`signing keys unavailable: ${(err as Error).message}`)
    }
  }
  const options = {
    algorithms,
    ...(issuer === undefined ? {} : { issuer }),
    ...(audience === undefined ? {} : { audience })
  }
  return async token => (await jwtVerify(token, key, options)).payload as Record<string, unknown>
}
