// The cost of the tracing code with the no-op OpenTelemetry API (no SDK installed, request log
// sampling off): rpc-redis on two gateways of the same Redis, each with a worker of its own on keys
// of its own, one with the tracing code skipped (IPC_TRACING=false, the worker's `tracing: false`),
// one as shipped. Phases alternate, off then on, round by round; each side keeps its best.
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import type { LoadGroup } from '../lib/loaders.js'
import { type Proc, forkJs } from '../lib/procs.js'
import type { BenchRedis } from '../lib/redis.js'
import type { Row } from '../lib/result.js'
import { SECRET, type Server, startGateway } from '../lib/servers.js'
import { untilCallable } from './redis.js'
import { measure, type RpcPlan } from './rpc.js'

const WORKER_CONCURRENCY = Number(process.env.BENCH_WORKER_CONCURRENCY ?? 1024)

interface Side { name: string, server: Server, worker: Proc }

async function side (redis: BenchRedis, tracing: boolean): Promise<Side> {
  const prefix = tracing ? 'ipc:' : 'notrace:'
  const worker = forkJs(`worker-tracing-${tracing ? 'on' : 'off'}`, fileURLToPath(new URL('../worker.mjs', import.meta.url)),
    { REDIS_URL: redis.url, CONCURRENCY: String(WORKER_CONCURRENCY), PREFIX: prefix, TRACING: tracing ? '1' : '0' })
  await Promise.race([once(worker.child, 'message'), once(worker.child, 'exit').then(() => { throw new Error(`worker exited: ${worker.output()}`) })])
  const server = await startGateway({ redisUrl: redis.url, nodeId: `bench-tracing-${tracing ? 'on' : 'off'}`, env: { IPC_TRACING: String(tracing), IPC_PREFIX: prefix } })
  await untilCallable(server.url)
  return { name: tracing ? 'rpc-redis tracing on (no-op API)' : 'rpc-redis tracing off', server, worker }
}

export async function tracingScenario (redis: BenchRedis, rpcGroup: LoadGroup, plan: RpcPlan, log: (s: string) => void): Promise<Row[]> {
  const sides: Side[] = []
  try {
    sides.push(await side(redis, false), await side(redis, true))
    const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
    const best: Array<Row | undefined> = [undefined, undefined]
    const ratios: number[] = []
    for (let r = 0; r < rounds; r++) {
      const pair: Row[] = []
      for (const [i, { name, server, worker }] of sides.entries()) {
        const c = await rpcGroup.connect(server.url, plan.connections, { auth: 'header', secret: SECRET })
        try {
          if (c.failed > 0) throw new Error(`${name}: ${c.failed} connections failed: ${c.firstError ?? ''}`)
          const row = await measure(name, [server], { workerCpu: [worker.child.pid!], redisCpu: [redis.proc.child.pid!] }, rpcGroup,
            { method: 'wbench.echo', inFlight: plan.inFlight, warmupMs: plan.warmupMs, durationMs: plan.durationMs })
          log(`  round ${r + 1}: ${name} ${Math.round(row.throughput)} calls/s`)
          pair.push(row)
          if (best[i] === undefined || row.throughput > best[i]!.throughput) best[i] = row
        } finally {
          await rpcGroup.close()
        }
      }
      ratios.push(pair[1].throughput / pair[0].throughput)
    }
    const [off, on] = best as Row[]
    const cost = (1 - on.throughput / off.throughput) * 100
    off.note = `best of ${rounds}`
    on.note = `best of ${rounds}; ${cost.toFixed(1)}% below tracing off (best vs best); per-round on/off ${ratios.map(r => r.toFixed(3)).join(', ')}`
    return [off, on]
  } finally {
    await Promise.all(sides.flatMap(s => [s.server.proc.stop(), s.worker.stop()]))
  }
}
