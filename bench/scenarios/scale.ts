// One machine holding 100,000 authenticated idle connections, and a broadcast to all of them; then
// RPC through `serve --processes 2` against one process. A process may hold 20,000 open files here,
// so connections are spread over gateway processes (`--processes`) and load processes, and over
// destination addresses 127.0.0.1-6 (one source and destination pair has 28,000 ephemeral ports).
import { execFileSync } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import { LoadGroup } from '../lib/loaders.js'
import { totalRss } from '../lib/proc-stats.js'
import type { BenchRedis } from '../lib/redis.js'
import type { Row } from '../lib/result.js'
import { type Server, startGateway } from '../lib/servers.js'
import { broadcastScenario } from './broadcast.js'
import { type RpcPlan, rpcScenario } from './rpc.js'

// BENCH_SCALE_CONNECTIONS: fewer, to try it on a smaller machine
export const SCALE = { connections: Number(process.env.BENCH_SCALE_CONNECTIONS ?? 100_000), processes: 6, loaders: 6 }

/** The gateway processes behind a `--processes` primary, as one Server each (its own pid and destination address). */
function processes (gw: Server, count: number): Server[] {
  const pids = execFileSync('pgrep', ['-P', String(gw.pid), '-f', 'cli.js serve'], { encoding: 'utf8' }).trim().split('\n').map(Number)
  if (pids.length !== count) throw new Error(`expected ${count} gateway processes, found ${pids.length}`)
  const port = new URL(gw.url).port
  return pids.map((pid, i) => ({ ...gw, pid, url: `ws://127.0.0.${i + 1}:${port}/ws` }))
}

async function ready (gw: Server, count: number): Promise<void> {
  for (let i = 0; !gw.proc.output().includes(`${count} gateway processes listening`); i++) {
    if (i > 300) throw new Error(`the gateway processes did not all listen:\n${gw.proc.output()}`)
    await sleep(100)
  }
}

export async function scaleScenarios (redis: BenchRedis, rpcPlan: RpcPlan, log: (msg: string) => void): Promise<Row[]> {
  const rows: Row[] = []
  const gw = await startGateway({ redisUrl: redis.url, processes: SCALE.processes })
  const group = await LoadGroup.start(SCALE.loaders, 'scale')
  try {
    await ready(gw, SCALE.processes)
    const servers = processes(gw, SCALE.processes)
    const before = totalRss(servers.map(s => s.pid))
    log(`scale: ${SCALE.connections.toLocaleString('en-US')} connections over ${SCALE.processes} gateway processes`)
    const row = await broadcastScenario(`broadcast ${SCALE.connections / 1000}k`, servers, group, { connections: SCALE.connections, window: 1, warmupEvents: 2, durationMs: 10000 }, 'header')
    const after = row.bytesPerConnection = (row.rssMiB! * 2 ** 20 - before) / Number(row.connections)
    const idle = (Number(row.idleRssMiB) * 2 ** 20 - before) / Number(row.connections)
    row.note = `${SCALE.processes} gateway processes, ${SCALE.loaders} load processes; RSS of all gateway processes: ` +
      `${(idle / 1024).toFixed(1)} KiB per connection idle, ${(after / 1024).toFixed(1)} after the broadcast`
    rows.push(row)
  } finally {
    await group.stop()
    await gw.proc.stop()
  }

  // The same machine's RPC throughput through one process and through two (in-process method).
  const rpcGroup = await LoadGroup.start(2, 'scale-rpc')
  try {
    for (const count of [1, 2]) {
      const one = await startGateway({ redisUrl: redis.url, methods: true, ...(count > 1 ? { processes: count } : {}) })
      try {
        if (count > 1) await ready(one, count)
        const servers = count > 1 ? processes(one, count).map(s => ({ ...s, url: one.url })) : [one]
        rows.push(await rpcScenario(count > 1 ? `rpc-local --processes ${count}` : 'rpc-local (Redis, 1 process)', servers, {}, rpcGroup, 'bench.echo', rpcPlan, 'header'))
      } finally {
        await one.proc.stop()
      }
    }
  } finally {
    await rpcGroup.stop()
  }
  return rows
}
