// Options of the plugin and of the standalone server: one TypeBox schema, defaults, one clear error per bad value.
import Type, { type Static } from 'typebox'
import { Compile } from 'typebox/compile'
import { InvalidOptionError } from './errors.js'

const Int = (min: number, description: string, def: number) => Type.Integer({ minimum: min, default: def, description })

export const Limits = {
  maxPayload: Int(1, 'largest inbound frame in bytes (close 1009 above)', 64 * 1024),
  maxBatch: Int(1, 'most entries in a JSON-RPC batch', 20),
  maxInFlight: Int(1, 'most requests in flight per connection (-32029 above)', 64),
  rateLimit: Int(0, 'messages per second per connection, bursts up to twice that; 0 = unlimited', 200),
  maxConnections: Int(0, 'most connections on this node; 0 = unlimited (close 4029 above)', 50000),
  maxConnectionsPerUser: Int(0, 'most connections of one user on this node; 0 = unlimited', 100),
  maxConnectionsPerIp: Int(0, 'most connections from one IP on this node; 0 = unlimited', 2000),
  maxBufferedBytes: Int(1, 'outbound bytes queued before a slow consumer is closed with 4008', 1024 * 1024),
  maxRoomsPerConnection: Int(1, 'most rooms one connection may join', 256),
  authTimeoutMs: Int(1, 'time a connection has to authenticate (close 4001)', 10000),
  heartbeatMs: Int(10, 'WebSocket ping interval', 25000),
  defaultTimeoutMs: Int(1, 'deadline of a method without its own timeoutMs', 10000),
  presenceTtlMs: Int(100, 'how long presence outlives a crashed node', 30000),
  shutdownTimeoutMs: Int(0, 'how long shutdown waits for in-flight requests', 10000),
  drainSpreadMs: Int(0, 'how long shutdown spreads the closing of connections over, so their clients do not reconnect elsewhere all at once; 0 = all at once', 0)
}

export const JwtOptions = Type.Object({
  secret: Type.Optional(Type.String({ minLength: 1 })),
  publicKey: Type.Optional(Type.String({ minLength: 1 })),
  algorithms: Type.Optional(Type.Array(Type.Union([
    Type.Literal('HS256'), Type.Literal('HS384'), Type.Literal('HS512'),
    Type.Literal('RS256'), Type.Literal('RS384'), Type.Literal('RS512'),
    Type.Literal('ES256'), Type.Literal('ES384'), Type.Literal('ES512')
  ]), { minItems: 1 })),
  issuer: Type.Optional(Type.String()),
  audience: Type.Optional(Type.String())
}, { additionalProperties: false })

export const OptionsSchema = Type.Object({
  path: Type.String({ default: '/ws', pattern: '^/' }),
  jwt: Type.Optional(JwtOptions),
  apiKeys: Type.Optional(Type.Record(Type.String({ minLength: 1 }), Type.String({ minLength: 16 }))),
  publicRooms: Type.Array(Type.String(), { default: [] }),
  allowAnonymous: Type.Boolean({ default: false }),
  nodeId: Type.Optional(Type.String({ minLength: 1, pattern: '^[A-Za-z0-9_.-]+$' })),
  prefix: Type.String({ default: 'ipc:' }),
  redis: Type.Optional(Type.Unknown()),
  redisCluster: Type.Boolean({ default: false, description: '`redis` (a URL) names one node of a Redis Cluster' }),
  routes: Type.Boolean({ default: true, description: 'serve /health, /ready, /metrics, /openrpc.json, /api/publish' }),
  tracing: Type.Boolean({ default: true, description: 'a span per call through @opentelemetry/api (a no-op unless the application installs an SDK); false skips that code' }),
  requestLogSampleRate: Type.Number({ minimum: 0, maximum: 1, default: 0, description: 'share of successful calls written to the request log (0-1); failed calls always are' }),
  requestLogStream: Type.Boolean({ default: false, description: 'also append the request log to the Redis stream <prefix>requests (needs redis)' }),
  requestLogStreamLength: Type.Integer({ minimum: 1, default: 10000, description: 'most entries the request log stream keeps' }),
  ...Limits
}, { additionalProperties: false })

export type ResolvedOptions = Static<typeof OptionsSchema>

export interface Identity {
  kind: 'user' | 'service' | 'anonymous'
  userId: string
  roles: string[]
  /** room patterns this identity may join (JWT `rooms` claim) */
  rooms: string[]
  claims: Record<string, unknown>
  /** epoch ms, or null when the token does not expire */
  expiresAt: number | null
}

export type CanJoin = (identity: Identity, room: string) => boolean | Promise<boolean>

/** Options of `app.register(fastifyIpc, options)`: everything optional. */
export type FastifyIpcOptions = Partial<Omit<ResolvedOptions, 'jwt'>> & {
  jwt?: Static<typeof JwtOptions>
  /** decides joins that neither the token's `rooms` claim nor `publicRooms` allow */
  canJoin?: CanJoin
}

const check = Compile(OptionsSchema)

/** Applies defaults and checks every value; throws one error naming the first bad option. */
export function resolveOptions (input: FastifyIpcOptions = {}): ResolvedOptions & { canJoin?: CanJoin } {
  const { canJoin, ...rest } = input
  if (canJoin !== undefined && typeof canJoin !== 'function') throw new InvalidOptionError('option "canJoin" must be a function')
  const opts = check.Default(structuredCloneSafe(rest)) as ResolvedOptions
  for (const err of check.Errors(opts)) {
    const name = err.instancePath.replace(/^\//, '').replace(/\//g, '.')
    if (err.keyword === 'boolean') throw new InvalidOptionError(`unknown option "${name}"`)
    throw new InvalidOptionError(`option "${name}" ${err.message}`)
  }
  const jwt = opts.jwt
  if (jwt?.secret && jwt.publicKey) throw new InvalidOptionError('set either jwt.secret or jwt.publicKey, not both')
  if (jwt?.publicKey && jwt.algorithms?.some(a => a.startsWith('HS'))) {
    throw new InvalidOptionError('jwt.algorithms: HS* algorithms need jwt.secret, not a public key')
  }
  if (jwt?.secret && jwt.algorithms?.some(a => !a.startsWith('HS'))) {
    throw new InvalidOptionError('jwt.algorithms: RS*/ES* algorithms need jwt.publicKey, not a secret')
  }
  if (opts.requestLogStream && input.redis === undefined) throw new InvalidOptionError('option "requestLogStream" needs "redis": the request log stream lives in Redis')
  return { ...opts, redis: input.redis, canJoin }
}

// Defaults are applied to a copy, so the caller's object (and a live redis client in it) is left alone.
function structuredCloneSafe (o: Record<string, unknown>): Record<string, unknown> {
  const copy: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined) continue
    copy[k] = Array.isArray(v) ? [...v] : (v !== null && typeof v === 'object' && k !== 'redis') ? { ...v } : v
  }
  return copy
}
