// Standalone configuration from environment variables: each one parsed and checked, and a bad value
// reported as one line naming the variable.
import { availableParallelism } from 'node:os'
import Type from 'typebox'
import { Compile } from 'typebox/compile'
import type { RedisOptions } from 'ioredis'
import { type FastifyIpcOptions, Limits } from './config.js'

export interface ServerConfig {
  port: number
  host: string
  logLevel: string
  trustProxy: boolean
  /** gateway processes sharing the port (IPC_PROCESSES; `auto` = one per core) */
  processes: number
  methods?: string
  options: FastifyIpcOptions
}

export class EnvError extends Error {}

const limit = (key: keyof typeof Limits) => Limits[key] as unknown as { description: string, default: number, minimum: number }
const Integer = (min: number, max = Number.MAX_SAFE_INTEGER) => Type.Integer({ minimum: min, maximum: max })

/** env name -> [option path, schema of the converted value, conversion] */
const limitVars: Record<string, keyof typeof Limits> = {
  IPC_MAX_PAYLOAD: 'maxPayload',
  IPC_MAX_BATCH: 'maxBatch',
  IPC_MAX_IN_FLIGHT: 'maxInFlight',
  IPC_RATE_LIMIT: 'rateLimit',
  IPC_MAX_CONNECTIONS: 'maxConnections',
  IPC_MAX_CONNECTIONS_PER_USER: 'maxConnectionsPerUser',
  IPC_MAX_CONNECTIONS_PER_IP: 'maxConnectionsPerIp',
  IPC_MAX_BUFFERED_BYTES: 'maxBufferedBytes',
  IPC_MAX_ROOMS_PER_CONNECTION: 'maxRoomsPerConnection',
  IPC_AUTH_TIMEOUT_MS: 'authTimeoutMs',
  IPC_HEARTBEAT_MS: 'heartbeatMs',
  IPC_DEFAULT_TIMEOUT_MS: 'defaultTimeoutMs',
  IPC_PRESENCE_TTL_MS: 'presenceTtlMs',
  IPC_SHUTDOWN_TIMEOUT_MS: 'shutdownTimeoutMs',
  IPC_DRAIN_SPREAD_MS: 'drainSpreadMs',
  IPC_RESULT_TTL_MS: 'resultTtlMs',
  IPC_HISTORY_SIZE: 'historySize',
  IPC_HISTORY_TTL_MS: 'historyTtlMs',
  IPC_HOOK_TIMEOUT_MS: 'hookTimeoutMs'
}

/** Redis behind Sentinel, instead of REDIS_URL (serve and worker) */
export const redisSentinelHelp: Record<string, string> = {
  REDIS_SENTINELS: 'Redis Sentinels as host:port,host:port (instead of REDIS_URL): they name the master',
  REDIS_SENTINEL_NAME: 'the master\'s name at the Sentinels (mymaster)',
  REDIS_USERNAME: 'the ACL user of the master and replicas behind REDIS_SENTINELS (default)',
  REDIS_PASSWORD: 'the password of the master and replicas behind REDIS_SENTINELS',
  REDIS_DB: 'the database behind REDIS_SENTINELS (0)',
  REDIS_TLS: 'true: TLS to the master and replicas behind REDIS_SENTINELS (other CAs: NODE_EXTRA_CA_CERTS)',
  REDIS_SENTINEL_USERNAME: 'the Sentinels\' own ACL user, if they require one',
  REDIS_SENTINEL_PASSWORD: 'the Sentinels\' own password, if they require one',
  REDIS_SENTINEL_TLS: 'true: TLS to the Sentinels'
}

/** every variable the server reads, with its meaning (for the README and `--help`) */
export const envHelp: Record<string, string> = {
  IPC_PORT: 'port to listen on (8765)',
  IPC_HOST: 'address to listen on (0.0.0.0)',
  IPC_PATH: 'WebSocket path (/ws)',
  IPC_JWT_SECRET: 'HS256 secret for JWTs',
  IPC_JWT_PUBLIC_KEY: 'PEM public key for RS256/ES256 JWTs (\\n escapes allowed)',
  IPC_JWT_ALGORITHMS: 'comma-separated pinned algorithms (HS256, or RS256/ES256 by key type)',
  IPC_JWT_ISSUER: 'required `iss` claim',
  IPC_JWT_AUDIENCE: 'required `aud` claim',
  IPC_JWT_JWKS_URL: 'URL of a JWKS document whose keys verify JWTs (chosen by `kid`; instead of a secret or public key)',
  IPC_JWT_JWKS_COOLDOWN_MS: 'least time between two fetches of the JWKS document (30000)',
  IPC_API_KEYS: 'service API keys as name:key,name:key (keys of 16+ characters)',
  IPC_PUBLIC_ROOMS: 'comma-separated room patterns anyone may join (e.g. lobby,news:*)',
  IPC_PRESENCE_EVENT_ROOMS: 'comma-separated room patterns whose members hear presence.join / presence.leave (none)',
  IPC_ALLOW_ANONYMOUS: 'true to let unauthenticated connections call `public` methods',
  IPC_HISTORY_ROOMS: 'comma-separated room patterns whose rooms keep history for recovery (e.g. chat:*)',
  IPC_HISTORY_USERS: 'false to keep no history for user:<id> targets (default true)',
  IPC_ADMIN_KEY: 'a key (16+ characters) that opens the admin page at /admin; unset with IPC_ADMIN_ROLE unset = no admin page',
  IPC_ADMIN_ROLE: 'a JWT role (`roles` claim) that opens the admin page at /admin',
  IPC_JOIN_METHOD: 'worker method deciding joins the token and IPC_PUBLIC_ROOMS do not allow (e.g. auth.can_join)',
  IPC_CONNECT_METHOD: 'worker method told of every authenticated connection; answering false closes it (1008)',
  IPC_DISCONNECT_METHOD: 'worker method told of every closed authenticated connection',
  IPC_JOIN_HOOK_FAILURE: 'deny or allow: a join when IPC_JOIN_METHOD fails or times out (deny)',
  IPC_CONNECT_HOOK_FAILURE: 'allow or deny: a connection when IPC_CONNECT_METHOD fails or times out (allow)',
  IPC_LIFECYCLE_STREAM: 'true to append connect/disconnect/join/leave records to the stream ipc:lifecycle (false)',
  IPC_METHODS: 'module whose default export registers methods: (ipc, app) => void',
  IPC_NODE_ID: 'this node\'s id (random by default)',
  IPC_PREFIX: 'Redis key prefix (ipc:)',
  IPC_LOG_LEVEL: 'pino log level (info)',
  IPC_TRUST_PROXY: 'true behind a reverse proxy (nginx), so per-IP limits see the client address',
  IPC_PROCESSES: 'gateway processes sharing the port, one node each, or auto (one per core); more than 1 needs Redis (1)',
  IPC_TRACING: 'false to skip the tracing code (a span per call through @opentelemetry/api) (true)',
  IPC_REQUEST_LOG_SAMPLE_RATE: 'share of successful calls written to the request log, 0 to 1; failed calls always are (0)',
  IPC_REQUEST_LOG_STREAM: 'true to append the request log to the Redis stream <prefix>requests too (false)',
  IPC_REQUEST_LOG_STREAM_LENGTH: 'most entries the request log stream keeps (10000)',
  REDIS_URL: 'Redis URL; unset = embedded in-memory broker (one node)',
  REDIS_CLUSTER: 'true when REDIS_URL names one node of a Redis Cluster (false)',
  ...redisSentinelHelp,
  ...Object.fromEntries(Object.entries(limitVars).map(([env, key]) => [env, `${limit(key).description} (${limit(key).default})`]))
}

const port = Compile(Integer(0, 65535))
const algorithms = new Set(['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512'])

/** A boolean variable: true/false/1/0, or undefined when unset. */
export function envBool (name: string, raw: string | undefined): boolean | undefined {
  if (raw === undefined) return undefined
  if (!/^(true|false|1|0)$/.test(raw)) throw new EnvError(`${name}=${raw}: must be true or false`)
  return raw === 'true' || raw === '1'
}

/** A variable's value, trimmed; undefined when unset or blank. */
export const reader = (env: NodeJS.ProcessEnv) => (name: string): string | undefined => env[name]?.trim() || undefined

/**
 * Where Redis is: REDIS_URL (with REDIS_CLUSTER), or the Sentinels of REDIS_SENTINELS as ioredis
 * options; undefined when neither is set.
 */
export function redisFromEnv (env: NodeJS.ProcessEnv): { redis: string | RedisOptions, cluster: boolean } | undefined {
  const get = reader(env)
  const url = get('REDIS_URL')
  const sentinels = get('REDIS_SENTINELS')
  const cluster = envBool('REDIS_CLUSTER', get('REDIS_CLUSTER')) ?? false
  if (url !== undefined && sentinels !== undefined) throw new EnvError('REDIS_URL and REDIS_SENTINELS: set one, not both')
  // With REDIS_URL these are parts of the URL: rediss://user:password@host:port/db
  const inUrl: Record<string, string> = { REDIS_USERNAME: 'the user goes in the URL', REDIS_PASSWORD: 'the password goes in the URL', REDIS_DB: 'the db goes in the URL', REDIS_TLS: 'TLS is rediss://' }
  for (const name of Object.keys(redisSentinelHelp).filter(n => n !== 'REDIS_SENTINELS')) {
    if (get(name) !== undefined && sentinels === undefined) throw new EnvError(`${name}: only with REDIS_SENTINELS${name in inUrl ? ` (with REDIS_URL, ${inUrl[name]})` : ''}`)
  }
  if (cluster && url === undefined) throw new EnvError('REDIS_CLUSTER=true: needs REDIS_URL, the URL of one of the cluster\'s nodes')
  if (url !== undefined) {
    if (!/^rediss?:\/\//.test(url)) throw new EnvError(`REDIS_URL=${url}: must start with redis:// or rediss://`)
    return { redis: url, cluster }
  }
  if (sentinels === undefined) return undefined
  const db = get('REDIS_DB')
  if (db !== undefined && !/^\d{1,5}$/.test(db)) throw new EnvError(`REDIS_DB=${db}: must be a database number (0, 1, ...)`)
  const options: RedisOptions = {
    sentinels: sentinels.split(',').map(s => sentinelAddress(s.trim(), sentinels)),
    name: get('REDIS_SENTINEL_NAME') ?? 'mymaster'
  }
  // only what is set: the options stay as short as the environment
  const set = <K extends keyof RedisOptions>(key: K, value: RedisOptions[K] | undefined): void => { if (value !== undefined) options[key] = value }
  set('username', get('REDIS_USERNAME'))
  set('password', get('REDIS_PASSWORD'))
  set('db', db === undefined ? undefined : Number(db))
  // ioredis learns the master's address from the Sentinels, and connects to it with TLS only when told to
  if (envBool('REDIS_TLS', get('REDIS_TLS')) === true) Object.assign(options, { tls: {}, enableTLSForSentinelMode: true })
  set('sentinelUsername', get('REDIS_SENTINEL_USERNAME'))
  set('sentinelPassword', get('REDIS_SENTINEL_PASSWORD'))
  if (envBool('REDIS_SENTINEL_TLS', get('REDIS_SENTINEL_TLS')) === true) options.sentinelTLS = {}
  return { redis: options, cluster: false }
}

/** `host:port`, `[ipv6]:port`, or a host alone (port 26379, Sentinel's own) */
function sentinelAddress (entry: string, all: string): { host: string, port: number } {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^\s:[\]]+)(?::(\d{1,5}))?$/.exec(entry)
  const port = Number(m?.[2] ?? 26379)
  if (m === null || port < 1 || port > 65535) throw new EnvError(`REDIS_SENTINELS=${all}: each entry must be host:port ("${entry}" is not)`)
  return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port }
}

export function fromEnv (env: NodeJS.ProcessEnv): ServerConfig {
  const get = reader(env)
  const list = (name: string): string[] | undefined => get(name)?.split(',').map(s => s.trim()).filter(Boolean)
  const int = (name: string, min: number): number | undefined => {
    const raw = get(name)
    if (raw === undefined) return undefined
    const n = Number(raw)
    if (!/^-?\d+$/.test(raw) || !Compile(Integer(min)).Check(n)) throw new EnvError(`${name}=${raw}: must be a whole number >= ${min}`)
    return n
  }

  const options: FastifyIpcOptions = {}
  for (const [name, key] of Object.entries(limitVars)) {
    const n = int(name, limit(key).minimum)
    if (n !== undefined) options[key] = n
  }
  const path = get('IPC_PATH')
  if (path !== undefined) {
    if (!path.startsWith('/')) throw new EnvError(`IPC_PATH=${path}: must start with /`)
    options.path = path
  }
  const secret = get('IPC_JWT_SECRET')
  const publicKey = get('IPC_JWT_PUBLIC_KEY')?.replace(/\\n/g, '\n')
  if (secret !== undefined && publicKey !== undefined) throw new EnvError('IPC_JWT_SECRET and IPC_JWT_PUBLIC_KEY: set one, not both')
  const jwksUrl = get('IPC_JWT_JWKS_URL')
  if (jwksUrl !== undefined && (secret !== undefined || publicKey !== undefined)) throw new EnvError('IPC_JWT_JWKS_URL: set it instead of IPC_JWT_SECRET or IPC_JWT_PUBLIC_KEY, not with them')
  if (jwksUrl !== undefined && !/^https?:\/\/\S+$/.test(jwksUrl)) throw new EnvError(`IPC_JWT_JWKS_URL=${jwksUrl}: must be an http:// or https:// URL`)
  const jwksCooldownMs = int('IPC_JWT_JWKS_COOLDOWN_MS', 0)
  const algs = list('IPC_JWT_ALGORITHMS')
  for (const a of algs ?? []) {
    if (!algorithms.has(a)) throw new EnvError(`IPC_JWT_ALGORITHMS: unknown algorithm "${a}" (one of ${[...algorithms].join(', ')})`)
  }
  if (secret !== undefined || publicKey !== undefined || jwksUrl !== undefined || algs !== undefined) {
    options.jwt = {
      ...(secret === undefined ? {} : { secret }),
      ...(publicKey === undefined ? {} : { publicKey }),
      ...(jwksUrl === undefined ? {} : { jwksUrl }),
      ...(jwksCooldownMs === undefined ? {} : { jwksCooldownMs }),
      ...(algs === undefined ? {} : { algorithms: algs as never }),
      ...(get('IPC_JWT_ISSUER') === undefined ? {} : { issuer: get('IPC_JWT_ISSUER') }),
      ...(get('IPC_JWT_AUDIENCE') === undefined ? {} : { audience: get('IPC_JWT_AUDIENCE') })
    }
  }
  const keys = list('IPC_API_KEYS')
  if (keys !== undefined) {
    options.apiKeys = {}
    for (const pair of keys) {
      const sep = pair.indexOf(':')
      const name = pair.slice(0, sep)
      const key = pair.slice(sep + 1)
      if (sep <= 0 || key.length < 16) throw new EnvError('IPC_API_KEYS: each entry must be name:key with a key of at least 16 characters')
      options.apiKeys[name] = key
    }
  }
  const adminKey = get('IPC_ADMIN_KEY')
  if (adminKey !== undefined) {
    if (adminKey.length < 16) throw new EnvError('IPC_ADMIN_KEY: must be at least 16 characters')
    options.adminKey = adminKey
  }
  const adminRole = get('IPC_ADMIN_ROLE')
  if (adminRole !== undefined) options.adminRole = adminRole
  const rooms = list('IPC_PUBLIC_ROOMS')
  if (rooms !== undefined) options.publicRooms = rooms
  const historyRooms = list('IPC_HISTORY_ROOMS')
  if (historyRooms !== undefined) options.historyRooms = historyRooms
  const historyUsers = envBool('IPC_HISTORY_USERS', get('IPC_HISTORY_USERS'))
  if (historyUsers !== undefined) options.historyUsers = historyUsers
  const eventRooms = list('IPC_PRESENCE_EVENT_ROOMS')
  for (const p of eventRooms ?? []) {
    if (/[|\s]/.test(p) || p.indexOf('*') < p.length - 1) throw new EnvError(`IPC_PRESENCE_EVENT_ROOMS: "${p}" is not a room pattern (a room name, prefix:*, or *)`)
  }
  if (eventRooms !== undefined) options.presenceEventRooms = eventRooms
  const anon = envBool('IPC_ALLOW_ANONYMOUS', get('IPC_ALLOW_ANONYMOUS'))
  if (anon !== undefined) options.allowAnonymous = anon
  const nodeId = get('IPC_NODE_ID')
  if (nodeId !== undefined) {
    if (!/^[A-Za-z0-9_.-]+$/.test(nodeId)) throw new EnvError(`IPC_NODE_ID=${nodeId}: letters, digits, _ . - only`)
    options.nodeId = nodeId
  }
  for (const [name, key] of [['IPC_JOIN_METHOD', 'joinMethod'], ['IPC_CONNECT_METHOD', 'connectMethod'], ['IPC_DISCONNECT_METHOD', 'disconnectMethod']] as const) {
    const method = get(name)
    if (method === undefined) continue
    if (!/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(method) || method.startsWith('rpc.')) throw new EnvError(`${name}=${method}: must be a method name like auth.can_join`)
    options[key] = method
  }
  for (const [name, key, values] of [['IPC_JOIN_HOOK_FAILURE', 'joinHookFailure', ['deny', 'allow']], ['IPC_CONNECT_HOOK_FAILURE', 'connectHookFailure', ['allow', 'deny']]] as const) {
    const policy = get(name)
    if (policy === undefined) continue
    if (!(values as readonly string[]).includes(policy)) throw new EnvError(`${name}=${policy}: must be ${values.join(' or ')}`)
    options[key] = policy as 'allow' | 'deny'
  }
  const lifecycle = envBool('IPC_LIFECYCLE_STREAM', get('IPC_LIFECYCLE_STREAM'))
  if (lifecycle !== undefined) options.lifecycleStream = lifecycle
  const prefix = get('IPC_PREFIX')
  if (prefix !== undefined) options.prefix = prefix
  const tracing = envBool('IPC_TRACING', get('IPC_TRACING'))
  if (tracing !== undefined) options.tracing = tracing
  const rate = get('IPC_REQUEST_LOG_SAMPLE_RATE')
  if (rate !== undefined) {
    if (!/^(0(\.\d+)?|\.\d+|1(\.0+)?)$/.test(rate)) throw new EnvError(`IPC_REQUEST_LOG_SAMPLE_RATE=${rate}: must be a number from 0 to 1`)
    options.requestLogSampleRate = Number(rate)
  }
  const logStream = envBool('IPC_REQUEST_LOG_STREAM', get('IPC_REQUEST_LOG_STREAM'))
  if (logStream !== undefined) options.requestLogStream = logStream
  const logLength = int('IPC_REQUEST_LOG_STREAM_LENGTH', 1)
  if (logLength !== undefined) options.requestLogStreamLength = logLength
  const redis = redisFromEnv(env)
  if (redis !== undefined) {
    options.redis = redis.redis
    if (redis.cluster) options.redisCluster = true
  }

  const rawPort = get('IPC_PORT') ?? '8765'
  if (!/^\d+$/.test(rawPort) || !port.Check(Number(rawPort))) throw new EnvError(`IPC_PORT=${rawPort}: must be a port number (0-65535)`)
  const logLevel = get('IPC_LOG_LEVEL') ?? 'info'
  if (!/^(fatal|error|warn|info|debug|trace|silent)$/.test(logLevel)) throw new EnvError(`IPC_LOG_LEVEL=${logLevel}: one of fatal, error, warn, info, debug, trace, silent`)
  const trustProxy = envBool('IPC_TRUST_PROXY', get('IPC_TRUST_PROXY')) ?? false
  return {
    port: Number(rawPort),
    host: get('IPC_HOST') ?? '0.0.0.0',
    logLevel,
    trustProxy,
    processes: processCount(get('IPC_PROCESSES') ?? '1'),
    methods: get('IPC_METHODS'),
    options
  }
}

/** IPC_PROCESSES or --processes: a whole number >= 1, or `auto` for one process per core. */
export function processCount (raw: string): number {
  if (raw === 'auto') return availableParallelism()
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new EnvError(`IPC_PROCESSES=${raw}: must be a whole number >= 1, or auto`)
  return Number(raw)
}
