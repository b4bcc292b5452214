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
  resultTtlMs: Int(1, 'how long the answer of a call with an idempotencyKey is kept for a re-send of it', 60000),
  drainSpreadMs: Int(0, 'how long shutdown spreads the closing of connections over, so their clients do not reconnect elsewhere all at once; 0 = all at once', 0),
  historySize: Int(1, 'most events a history target keeps for recovery', 100),
  historyTtlMs: Int(1000, 'how long a target keeps its history after its last event', 300000),
  hookTimeoutMs: Int(1, 'deadline of a call to a joinMethod, connectMethod or disconnectMethod worker', 2000)
}

/** a worker method serving a hook (docs/protocol.md §5): `<service>.<name>`, never `rpc.*` */
const HookMethod = (description: string) => Type.Optional(Type.String({ pattern: '^(?!rpc\\.)[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)*$', description }))

export const JwtOptions = Type.Object({
  secret: Type.Optional(Type.String({ minLength: 1 })),
  publicKey: Type.Optional(Type.String({ minLength: 1 })),
  algorithms: Type.Optional(Type.Array(Type.Union([
    Type.Literal('HS256'), Type.Literal('HS384'), Type.Literal('HS512'),
    Type.Literal('RS256'), Type.Literal('RS384'), Type.Literal('RS512'),
    Type.Literal('ES256'), Type.Literal('ES384'), Type.Literal('ES512')
  ]), { minItems: 1 })),
  /** keys fetched from this JWKS document, chosen by the token's `kid` (docs/protocol.md §2) */
  jwksUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
  /** least time between two fetches of the JWKS document (an unknown `kid` fetches it again) */
  jwksCooldownMs: Type.Optional(Type.Integer({ minimum: 0 })),
  issuer: Type.Optional(Type.String()),
  audience: Type.Optional(Type.String())
}, { additionalProperties: false })

export const OptionsSchema = Type.Object({
  path: Type.String({ default: '/ws', pattern: '^/' }),
  jwt: Type.Optional(JwtOptions),
  apiKeys: Type.Optional(Type.Record(Type.String({ minLength: 1 }), Type.String({ minLength: 16 }))),
  publicRooms: Type.Array(Type.String(), { default: [] }),
  presenceEventRooms: Type.Array(Type.String({ pattern: '^[^*|\\s]*\\*?$' }), { default: [], description: 'room patterns whose members hear presence.join / presence.leave' }),
  allowAnonymous: Type.Boolean({ default: false }),
  historyRooms: Type.Array(Type.String({ minLength: 1, pattern: '^[^|\\s]+$' }), { default: [], description: 'room patterns (as publicRooms) whose rooms keep history for recovery' }),
  historyUsers: Type.Boolean({ default: true, description: 'user:<id> targets keep history for recovery' }),
  nodeId: Type.Optional(Type.String({ minLength: 1, pattern: '^[A-Za-z0-9_.-]+$' })),
  prefix: Type.String({ default: 'ipc:' }),
  redis: Type.Optional(Type.Unknown()),
  redisCluster: Type.Boolean({ default: false, description: '`redis` (a URL) names one node of a Redis Cluster' }),
  adminKey: Type.Optional(Type.String({ minLength: 16, description: 'a key that opens the admin page (/admin); unset with adminRole unset = no admin page' })),
  adminRole: Type.Optional(Type.String({ minLength: 1, description: 'a JWT role (`roles` claim) that opens the admin page' })),
  routes: Type.Boolean({ default: true, description: 'serve /health, /ready, /metrics, /openrpc.json, /api/publish and the /api control routes' }),
  joinMethod: HookMethod('a worker method deciding joins that neither the token nor publicRooms allow (instead of canJoin)'),
  connectMethod: HookMethod('a worker method told of every authenticated connection, which may refuse it (instead of onConnect)'),
  disconnectMethod: HookMethod('a worker method told of every closed authenticated connection (instead of onDisconnect)'),
  joinHookFailure: Type.Union([Type.Literal('deny'), Type.Literal('allow')], { default: 'deny', description: 'what a joinMethod that fails or times out means' }),
  connectHookFailure: Type.Union([Type.Literal('allow'), Type.Literal('deny')], { default: 'allow', description: 'what a connectMethod that fails or times out means' }),
  lifecycleStream: Type.Boolean({ default: false, description: 'append connect, disconnect, join and leave records to the stream ipc:lifecycle' }),
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

/** What hooks know of a connection besides its identity. */
export interface ConnectionInfo {
  connectionId: string
  ip: string
}

/** Told of every authenticated connection; `false` (or a -32003 RpcError) closes it with 1008. */
export type OnConnect = (identity: Identity, conn: ConnectionInfo) => boolean | undefined | Promise<boolean | undefined>
/** Told of every authenticated connection that closed, with the rooms it was in. */
export type OnDisconnect = (identity: Identity, conn: ConnectionInfo & { rooms: string[] }) => unknown

/** The host app's in-process hooks (docs/protocol.md §5), each an alternative to its worker method. */
export interface HookFunctions {
  /** decides joins that neither the token's `rooms` claim nor `publicRooms` allow */
  canJoin?: CanJoin
  onConnect?: OnConnect
  onDisconnect?: OnDisconnect
}

/** Options of `app.register(fastifyIpc, options)`: everything optional. */
export type FastifyIpcOptions = Partial<Omit<ResolvedOptions, 'jwt'>> & HookFunctions & {
  jwt?: Static<typeof JwtOptions>
}

const check = Compile(OptionsSchema)

/** Applies defaults and checks every value; throws one error naming the first bad option. */
export function resolveOptions (input: FastifyIpcOptions = {}): ResolvedOptions & HookFunctions {
  const { canJoin, onConnect, onDisconnect, ...rest } = input
  for (const [name, fn] of Object.entries({ canJoin, onConnect, onDisconnect })) {
    if (fn !== undefined && typeof fn !== 'function') throw new InvalidOptionError(`option "${name}" must be a function`)
  }
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
  if (jwt?.jwksUrl !== undefined && (jwt.secret !== undefined || jwt.publicKey !== undefined)) {
    throw new InvalidOptionError('set either jwt.jwksUrl or jwt.secret / jwt.publicKey, not both')
  }
  if (jwt?.jwksUrl !== undefined && jwt.algorithms?.some(a => a.startsWith('HS'))) {
    throw new InvalidOptionError('jwt.algorithms: HS* algorithms need jwt.secret, not a JWKS')
  }
  for (const [fn, method] of [['canJoin', 'joinMethod'], ['onConnect', 'connectMethod'], ['onDisconnect', 'disconnectMethod']] as const) {
    if (input[fn] !== undefined && opts[method] !== undefined) throw new InvalidOptionError(`set either ${fn} or ${method}, not both`)
    if (opts[method] !== undefined && input.redis === undefined) throw new InvalidOptionError(`option "${method}" needs workers, so "redis"`)
  }
  if (opts.lifecycleStream && input.redis === undefined) throw new InvalidOptionError('option "lifecycleStream" needs "redis"')
  if (opts.requestLogStream && input.redis === undefined) throw new InvalidOptionError('option "requestLogStream" needs "redis": the request log stream lives in Redis')
  return { ...opts, redis: input.redis, canJoin, onConnect, onDisconnect }
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
