// The servers under test: the gateway from dist/ (what production runs) and the bare-ws baselines.
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { type Proc, forkTs, freePort, start, waitHttp } from './procs.js'

export const SECRET = 'bench-secret-0123456789abcdef0123456789'
export const API_KEY = 'bench-api-key-0123456789abcdef'
const root = fileURLToPath(new URL('../../', import.meta.url))

/** `publish` sends to `all` unless given another target (the baseline has none) */
export interface Server { proc: Proc, pid: number, url: string, http: string, publish (data: string, target?: string): Promise<void> }

/** `processes`: `serve --processes N` on all addresses (127.0.0.x), so clients can spread over destinations. */
/** `env`: more variables for the gateway (the tracing row's IPC_TRACING and IPC_PREFIX) */
export async function startGateway (opts: { redisUrl?: string, methods?: boolean, nodeId?: string, processes?: number, port?: number, env?: Record<string, string> } = {}): Promise<Server> {
  const port = opts.port ?? await freePort()
  // BENCH_PROFILE=<dir>: every gateway writes a V8 CPU profile there when it stops.
  const profile = process.env.BENCH_PROFILE === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROFILE]
  const proc = start(`gateway${opts.nodeId === undefined ? '' : '-' + opts.nodeId}`, process.execPath, [...profile, 'dist/src/cli.js', 'serve'], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      IPC_HOST: opts.processes === undefined ? '127.0.0.1' : '0.0.0.0',
      IPC_PORT: String(port),
      ...(opts.processes === undefined ? {} : { IPC_PROCESSES: String(opts.processes) }),
      IPC_JWT_SECRET: SECRET,
      IPC_API_KEYS: `bench:${API_KEY}`,
      IPC_LOG_LEVEL: 'warn',
      // The bench measures capacity, not policy: no rate limit and no connection caps.
      IPC_RATE_LIMIT: '0',
      IPC_MAX_CONNECTIONS: '0',
      IPC_MAX_CONNECTIONS_PER_IP: '0',
      IPC_MAX_CONNECTIONS_PER_USER: '0',
      ...(opts.methods === true ? { IPC_METHODS: 'bench/methods.mjs' } : {}),
      ...(process.env.BENCH_INTERCEPTOR === undefined ? {} : { BENCH_INTERCEPTOR: process.env.BENCH_INTERCEPTOR }),
      ...(opts.redisUrl === undefined ? {} : { REDIS_URL: opts.redisUrl }),
      ...(opts.nodeId === undefined ? {} : { IPC_NODE_ID: opts.nodeId }),
      ...opts.env
    }
  })
  const http = `http://127.0.0.1:${port}`
  await waitHttp(`${http}/health`, proc)
  return {
    proc,
    pid: proc.child.pid!,
    url: `ws://127.0.0.1:${port}/ws`,
    http,
    async publish (data, target = 'all') {
      const res = await fetch(`${http}/api/publish`, {
        method: 'POST',
        headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
        body: `{"target":${JSON.stringify(target)},"event":"bench.tick","data":${data}}`
      })
      if (!res.ok) throw new Error(`publish: HTTP ${res.status} ${await res.text()}`)
      await res.arrayBuffer()
    }
  }
}

/** `batchWrites`: the echoes of one event-loop turn go out in one write per socket, like the gateway's. */
export async function startBaseline (opts: { batchWrites?: boolean } = {}): Promise<Server> {
  const port = await freePort()
  const proc = forkTs('baseline', fileURLToPath(new URL('../baseline-server.ts', import.meta.url)), { PORT: String(port), ...(opts.batchWrites === true ? { BATCH_WRITES: '1' } : {}) })
  const http = `http://127.0.0.1:${port}`
  await waitHttp(`${http}/health`, proc)
  return {
    proc,
    pid: proc.child.pid!,
    url: `ws://127.0.0.1:${port}/`,
    http,
    async publish (data) {
      const res = await fetch(`${http}/publish`, { method: 'POST', body: data })
      await res.arrayBuffer()
    }
  }
}

/** rpc-redis's bare limit: the chain server and its worker; `proc.stop()` stops both. */
export async function startRedisBaseline (redisUrl: string): Promise<Server & { worker: Proc }> {
  const port = await freePort()
  // the V8 setting the gateway and the bench's worker run with (src/cli.ts, bench/worker.mjs)
  const v8 = ['--no-allocation-site-pretenuring']
  const worker = forkTs('baseline-redis-worker', fileURLToPath(new URL('../baseline-redis-worker.ts', import.meta.url)), { REDIS_URL: redisUrl }, v8)
  const server = forkTs('baseline-redis', fileURLToPath(new URL('../baseline-redis-server.ts', import.meta.url)), { PORT: String(port), REDIS_URL: redisUrl }, v8)
  const stop = async (): Promise<void> => { await Promise.all([server.stop(), worker.stop()]) }
  const http = `http://127.0.0.1:${port}`
  try {
    await Promise.all([
      waitHttp(`${http}/health`, server),
      // 'ready': its consumer group exists
      Promise.race([once(worker.child, 'message'), once(worker.child, 'exit').then(() => { throw new Error(`baseline-redis-worker exited: ${worker.output()}`) })])
    ])
  } catch (err) {
    await stop()
    throw err
  }
  return {
    proc: { ...server, stop },
    pid: server.child.pid!,
    url: `ws://127.0.0.1:${port}/`,
    http,
    worker,
    async publish () { throw new Error('the redis chain baseline has no broadcast') }
  }
}
