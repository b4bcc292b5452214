// Issue 20's benchmark row: 10,000 real clients (fastify-ipc/client with its default full-jitter
// backoff) in history rooms; the gateway node is killed and started again on the same port while
// events are published to every room; measured: how long until every client has reconnected and
// recovered what it missed, and how the reconnects spread (a storm would put them all in one instant).
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { Publisher } from '../../src/worker/publisher.js'
import { type Proc, forkTs } from '../lib/procs.js'
import type { BenchRedis } from '../lib/redis.js'
import type { Row } from '../lib/result.js'
import { SECRET, startGateway } from '../lib/servers.js'

const CLIENTS = Number(process.env.BENCH_RECOVER_CLIENTS ?? 10_000)
const LOADERS = 4
const ROOMS = 100
/** events published to each room while the node is down: every client must get them after it reconnects */
const MISSED = 2
const FILE = fileURLToPath(new URL('../recover-clients.ts', import.meta.url))

interface Result { reconnected: number[], recovered: number[], incomplete: number, lost: number }

const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]

export async function recoverScenario (redis: BenchRedis, log: (msg: string) => void): Promise<Row> {
  const env = { IPC_HISTORY_ROOMS: 'bench:*', IPC_SHUTDOWN_TIMEOUT_MS: '0' }
  let gw = await startGateway({ redisUrl: redis.url, nodeId: 'recover', env })
  const port = Number(new URL(gw.url).port)
  const per = CLIENTS / LOADERS
  const loaders: Proc[] = []
  const publisher = new Publisher({ redis: redis.url })
  try {
    for (let i = 0; i < LOADERS; i++) {
      loaders.push(forkTs(`recover-${i}`, FILE, { URL: gw.url, COUNT: String(per), FIRST: String(i * per), ROOMS: String(ROOMS), SECRET }))
    }
    await Promise.all(loaders.map(async l => await once(l.child, 'message')))
    log(`recover: ${CLIENTS.toLocaleString('en-US')} clients in ${ROOMS} history rooms; killing the node`)
    const at = Date.now()
    for (const l of loaders) l.child.send({ type: 'restart', at })
    const exited = once(gw.proc.child, 'exit')
    gw.proc.child.kill('SIGKILL')
    await exited
    for (let r = 0; r < ROOMS; r++) {
      for (let m = 0; m < MISSED; m++) await publisher.toRoom(`bench:${r}`, 'missed', { m })
    }
    gw = await startGateway({ redisUrl: redis.url, nodeId: 'recover', env, port })
    const up = Date.now() - at
    const results = await Promise.all(loaders.map(async l => {
      const got = once(l.child, 'message') as Promise<[Result]>
      l.child.send({ type: 'collect', missed: MISSED })
      return (await got)[0]
    }))
    const recovered = results.flatMap(r => r.recovered).filter(t => t > 0).sort((a, b) => a - b)
    const reconnected = results.flatMap(r => r.reconnected).filter(t => t > 0).sort((a, b) => a - b)
    const incomplete = results.reduce((n, r) => n + r.incomplete, 0)
    const lost = results.reduce((n, r) => n + r.lost, 0)
    // The busiest 100 ms of reconnects, as a share of all: full jitter keeps it small.
    const buckets = new Map<number, number>()
    for (const t of reconnected) buckets.set(Math.floor(t / 100), (buckets.get(Math.floor(t / 100)) ?? 0) + 1)
    const peak = Math.max(...buckets.values())
    const last = recovered[recovered.length - 1]
    return {
      scenario: `reconnect+recover ${CLIENTS / 1000}k`,
      throughput: CLIENTS / ((last - up) / 1000),
      unit: 'clients/s',
      p50: quantile(recovered, 0.5) - up,
      p95: quantile(recovered, 0.95) - up,
      p99: quantile(recovered, 0.99) - up,
      clients: CLIENTS,
      downMs: up,
      allRecoveredMs: last - up,
      peak100msShare: peak / reconnected.length,
      incomplete,
      lost,
      note: `node down ${up} ms (SIGKILL, restart); every client recovered ${MISSED} missed events within ${last - up} ms of the node being back ` +
        `(times from then); busiest 100 ms held ${(100 * peak / reconnected.length).toFixed(1)}% of reconnects; ` +
        `${incomplete} incomplete, ${lost} recovered: false`
    }
  } finally {
    for (const l of loaders) await l.stop()
    await publisher.close()
    await gw.proc.stop()
  }
}
