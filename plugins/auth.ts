// JWT verification through @fastify/jwt, registered in a scope of its own under the `ipc` namespace,
// so a host app that registered @fastify/jwt itself keeps its own.
import { createPublicKey } from 'node:crypto'
import fastifyJwt from '@fastify/jwt'
import type { FastifyInstance } from 'fastify'
import type { ResolvedOptions } from '../src/config.js'
import type { JwtVerify } from '../src/gateway/auth.js'
import { jwksVerifier } from '../src/gateway/jwks.js'

/** how often, at most, the JWKS document is fetched again by default */
const JWKS_COOLDOWN_MS = 30000

/** The verify function of the `jwt` option, or null when neither a secret, a public key nor a JWKS URL is set. */
export async function jwtVerifier (fastify: FastifyInstance, jwt: ResolvedOptions['jwt']): Promise<JwtVerify | null> {
  if (jwt?.jwksUrl !== undefined) {
    const { jwksUrl, issuer, audience, jwksCooldownMs = JWKS_COOLDOWN_MS, algorithms = ['RS256'] } = jwt
    return jwksVerifier({ jwksUrl, algorithms, issuer, audience, cooldownMs: jwksCooldownMs }, fastify.log)
  }
  if (jwt?.secret === undefined && jwt?.publicKey === undefined) return null
  const algorithms = jwt.algorithms ?? defaultAlgorithms(jwt.publicKey)
  let verify: JwtVerify | null = null
  await fastify.register(async function jwtScope (scope) {
    // @fastify/jwt adds its namespace to a `jwt` decorator it finds: give this scope its own, so a
    // host's @fastify/jwt (or a second gateway's) is neither changed nor in the way.
    if (scope.hasDecorator('jwt')) Object.defineProperty(scope, 'jwt', { value: Object.create(null) })
    await scope.register(fastifyJwt, {
      secret: jwt.secret ?? { public: jwt.publicKey!, private: '' },
      namespace: 'ipc',
      verify: {
        algorithms,
        ...(jwt.issuer === undefined ? {} : { allowedIss: jwt.issuer }),
        ...(jwt.audience === undefined ? {} : { allowedAud: jwt.audience }),
        // fast-jwt checks iss/aud only when the token has them: a configured one must be present.
        requiredClaims: [...(jwt.issuer === undefined ? [] : ['iss']), ...(jwt.audience === undefined ? [] : ['aud'])]
      }
    })
    const verifier = (scope.jwt as unknown as Record<string, { verify: (t: string) => Record<string, unknown> }>).ipc
    verify = token => verifier.verify(token)
  })
  return verify
}

// The algorithm list is always pinned: HS256 for a secret, RS256 or ES256 by the public key's type.
function defaultAlgorithms (publicKey: string | undefined): Array<'HS256' | 'RS256' | 'ES256'> {
  if (publicKey === undefined) return ['HS256']
  return createPublicKey(publicKey).asymmetricKeyType === 'ec' ? ['ES256'] : ['RS256']
}
