// A cluster for one test file: a real Redis, gateway processes and worker processes on it.
// stop() kills whatever still runs (SIGKILL) and stops Redis; call it from `after`.
import { fileURLToPath } from 'node:url'
import { API_KEY, TestClient, token } from '../helper.js'
import { startRedis, type TestRedis } from '../helpers/redis.js'
import { type GatewayProcess, killAll, type Proc, startGatewayProcess, startWorkerProcess, type WorkerProcess } from '../helpers/processes.js'

export const WORKER_MODULE = fileURLToPath(new URL('./fixtures/worker.ts', import.meta.url))

export interface Cluster {
  redis: TestRedis
  gateways: GatewayProcess[]
  workers: WorkerProcess[]
  /** another worker process of the fixture module, for `service` */
  worker (service: string, env?: Record<string, string>): Promise<WorkerProcess>
  stop (): Promise<void>
}

export interface ClusterOptions {
  /** node ids of the gateway processes */
  nodes: string[]
  /** one worker process per entry, of the fixture module */
  workers?: Array<{ service: string, env?: Record<string, string> }>
  /** extra environment of every gateway */
  env?: Record<string, string>
}

export async function startCluster ({ nodes, workers = [], env = {} }: ClusterOptions): Promise<Cluster> {
  const redis = await startRedis()
  const procs: Proc[] = []
  const worker = async (service: string, extra: Record<string, string> = {}): Promise<WorkerProcess> => {
    const w = await startWorkerProcess(WORKER_MODULE, { REDIS_URL: redis.url, IPC_WORKER_SERVICE: service, IPC_WORKER_CONCURRENCY: '50', ...extra })
    procs.push(w)
    return w
  }
  const stop = async (): Promise<void> => {
    await killAll(procs)
    await redis.stop()
  }
  try {
    const gateways = await Promise.all(nodes.map(async nodeId => {
      const gw = await startGatewayProcess({ REDIS_URL: redis.url, IPC_NODE_ID: nodeId, ...env })
      procs.push(gw)
      return gw
    }))
    const started = await Promise.all(workers.map(async w => await worker(w.service, w.env)))
    return { redis, gateways, workers: started, worker, stop }
  } catch (err) {
    await stop()
    throw err
  }
}

interface HasAfter { after: (fn: () => Promise<void>) => void }

/** A client of `gw` authenticated as `sub` (any room allowed), joined to `rooms`, closed after the test. */
export async function connect (t: HasAfter, gw: GatewayProcess, sub: string, rooms: string[] = []): Promise<TestClient & { connectionId: string }> {
  const c = await TestClient.connect(gw.url)
  t.after(async () => await c.close())
  const auth = await c.call('rpc.auth', { token: token({ sub, rooms: ['*'] }) })
  if (auth.error !== undefined) throw new Error(`rpc.auth failed: ${auth.error.message}`)
  for (const room of rooms) {
    const joined = await c.call('rpc.join', { room })
    if (joined.error !== undefined) throw new Error(`rpc.join ${room} failed: ${joined.error.message}`)
  }
  return Object.assign(c, { connectionId: auth.result.connectionId as string })
}

/** POST /api/publish with the API key. */
export async function publishHttp (gw: GatewayProcess, body: unknown): Promise<Response> {
  return await postApi(gw, '/api/publish', body)
}

/** POST to one of the /api/* routes with the API key (or `key`, or none when null). */
export async function postApi (gw: GatewayProcess, path: string, body: unknown, key: string | null = API_KEY): Promise<Response> {
  return await fetch(`${gw.http}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key === null ? {} : { authorization: `Bearer ${key}` }) },
    body: JSON.stringify(body)
  })
}
