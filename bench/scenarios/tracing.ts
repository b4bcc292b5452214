// The cost of the tracing code with the no-op OpenTelemetry API (no SDK installed, request log
// sampling off): rpc-redis on two gateways of the same Redis, each with a worker of its own on keys
// of its own, one with the tracing code skipped (IPC_TRACING=false, the worker's `tracing: false`),
// one as shipped. Phases alternate, the side that goes first alternating round by round; each side
// keeps its best. On a shared machine throughput swings with the neighbours' load from one phase to
// the next, so the notes also give the median of the per-round ratios, and the CPU time per call of
// the gateway and the worker (less sensitive to the neighbours than the rate), as medians over the
// rounds.
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
    const rounds = Number(process.env.BENCH_ROUNDS ?? 5)
    const best: Array<Row | undefined> = [undefined, undefined]
    const ratios: number[] = []
    const perCall: number[][] = [[], []]
    for (let r = 0; r < rounds; r++) {
      const pair: Row[] = []
      // off first in odd rounds, on first in even ones: a drift of the machine favours neither
      for (const i of r % 2 === 0 ? [0, 1] : [1, 0]) {
        const { name, server, worker } = sides[i]
        const c = await rpcGroup.connect(server.url, plan.connections, { auth: 'header', secret: SECRET })
        try {
          if (c.failed > 0) throw new Error(`${name}: ${c.failed} connections failed: ${c.firstError ?? ''}`)
          const row = await measure(name, [server], { workerCpu: [worker.child.pid!], redisCpu: [redis.proc.child.pid!] }, rpcGroup,
            { method: 'wbench.echo', inFlight: plan.inFlight, warmupMs: plan.warmupMs, durationMs: plan.durationMs })
          const us = cpuPerCall(row)
          perCall[i].push(us)
          log(`  round ${r + 1}: ${name} ${Math.round(row.throughput)} calls/s, gateway+worker ${us.toFixed(1)} µs CPU per call`)
          pair[i] = row
          if (best[i] === undefined || row.throughput > best[i]!.throughput) best[i] = row
        } finally {
          await rpcGroup.close()
        }
      }
      ratios.push(pair[1].throughput / pair[0].throughput)
    }
    const [off, on] = best as Row[]
    const [cpuOff, cpuOn] = perCall.map(median)
    off.note = `best of ${rounds}; gateway+worker ${cpuOff.toFixed(1)} µs CPU per call (median)`
    on.note = `best of ${rounds}; gateway+worker ${cpuOn.toFixed(1)} µs CPU per call (median, ${((cpuOn / cpuOff - 1) * 100).toFixed(1)}% more); ` +
      `throughput on/off ${(on.throughput / off.throughput).toFixed(3)} best vs best, median per-round ${median(ratios).toFixed(3)} (${ratios.map(r => r.toFixed(3)).join(', ')})`
    return [off, on]
  } finally {
    await Promise.all(sides.flatMap(s => [s.server.proc.stop(), s.worker.stop()]))
  }
}

/** CPU time of the gateway and its worker per call, in µs (CPU % of one core over the measured window). */
function cpuPerCall (row: Row): number {
  return ((row.cpu ?? 0) + Number(row.workerCpu ?? 0)) / 100 * 1e6 / row.throughput
}

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
