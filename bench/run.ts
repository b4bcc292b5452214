// `npm run bench`: builds the gateway, starts everything on loopback, runs each scenario for a
// bounded time, prints one table with the targets of issue 5 and writes bench/results.json.
//   BENCH_ONLY=rpc,broadcast,connections,redis,history,python   run some scenarios only
//   BENCH_ONLY=scale                             100,000 connections and --processes (not in the default run)
//   BENCH_ONLY=recover                           10,000 clients reconnect and recover after a node restart
//   BENCH_ONLY=tracing                           rpc-redis with and without the tracing code (not in the default run)
//   BENCH_SKIP_BUILD=1                           use dist/ as it is
//   BENCH_INTERCEPTOR=1                          the gateway under test has one interceptor that changes nothing
//   BENCH_ROUNDS=2                               alternating rounds of baseline and gateway (best kept)
//   BENCH_PROFILE=<dir>                          gateways write V8 CPU profiles there
//   BENCH_RATES=8000,12000                       rpc-redis and the bare chain paced at these rates too
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { LoadGroup } from './lib/loaders.js'
import { installCleanup, killAll } from './lib/procs.js'
import { startRedis } from './lib/redis.js'
import { evaluate, table, targetsTable, writeResults } from './lib/report.js'
import type { Row } from './lib/result.js'
import { type Server, startBaseline, startGateway } from './lib/servers.js'
import { broadcastScenario } from './scenarios/broadcast.js'
import { connectionsScenario } from './scenarios/connections.js'
import { pythonScenarios } from './scenarios/python.js'
import { recoverScenario } from './scenarios/recover.js'
import { redisScenarios } from './scenarios/redis.js'
import { rpcScenario } from './scenarios/rpc.js'
import { scaleScenarios } from './scenarios/scale.js'
import { tracingScenario } from './scenarios/tracing.js'

const root = fileURLToPath(new URL('../', import.meta.url))
const only = process.env.BENCH_ONLY?.split(',')
const wants = (s: string): boolean => only === undefined || only.includes(s)
/** long, and needs the machine to itself: run only when asked for */
const asked = (s: string): boolean => only !== undefined && only.includes(s)

export const PLAN = {
  rpc: { connections: 100, inFlight: 8, warmupMs: 2000, durationMs: 8000 },
  broadcast: { connections: 10_000, window: 2, warmupEvents: 3, durationMs: 8000 },
  idleConnections: 15_000
}

const rows: Row[] = []
const skipped: string[] = []
const startedAt = new Date()

function log (msg: string): void {
  process.stderr.write(`[${((Date.now() - startedAt.getTime()) / 1000).toFixed(0).padStart(3)}s] ${msg}\n`)
}

function record (row: Row): void {
  rows.push(row)
  log(`${row.scenario}: ${Math.round(row.throughput).toLocaleString('en-US')} ${row.unit}` +
    (row.p99 === undefined ? '' : `, p50 ${row.p50!.toFixed(2)} / p99 ${row.p99.toFixed(2)} ms`) +
    (typeof row.bytesPerConnection === 'number' ? `, ${(row.bytesPerConnection / 1024).toFixed(1)} KiB/conn` : ''))
}

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2)

/** Runs the phases in turn ROUNDS times and records each one's best round (by throughput). */
async function rounds (phases: Array<() => Promise<Row>>): Promise<void> {
  const best: Array<Row | undefined> = []
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, phase] of phases.entries()) {
      const row = await phase()
      log(`  round ${r + 1}: ${row.scenario} ${Math.round(row.throughput).toLocaleString('en-US')} ${row.unit}`)
      if (best[i] === undefined || row.throughput > best[i]!.throughput) best[i] = row
    }
  }
  for (const row of best) {
    if (ROUNDS > 1) row!.note = [row!.note, `best of ${ROUNDS}`].filter(Boolean).join('; ')
    record(row!)
  }
}

async function withServer<T> (start: () => Promise<Server>, fn: (s: Server) => Promise<T>): Promise<T> {
  const server = await start()
  try {
    return await fn(server)
  } finally {
    await server.proc.stop()
  }
}

/**
 * Four fresh load processes for one part of the run (RPC uses two of them). Kept from part to part,
 * they would hold the heaps of thousands of closed sockets, and V8 would collect those in full GCs
 * while the next part measures tail latency.
 */
async function withLoad (fn: (group: LoadGroup, rpcGroup: LoadGroup) => Promise<void>): Promise<void> {
  const group = await LoadGroup.start(4, 'load')
  try {
    await fn(group, new LoadGroup(group.loaders.slice(0, 2)))
  } finally {
    await group.stop()
  }
}

async function main (): Promise<void> {
  installCleanup()
  if (process.env.BENCH_SKIP_BUILD !== '1') {
    log('building (npm run build)')
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' })
  }
  if (!existsSync(`${root}dist/src/cli.js`)) throw new Error('dist/src/cli.js is missing: npm run build')
  // The machine is shared and noisy: baseline and gateway alternate, and each keeps its best round.
  if (wants('rpc')) {
    await withLoad(async (_group, rpcGroup) => await rounds([
      async () => await withServer(async () => await startBaseline(), async s => await rpcScenario('baseline echo', [s], {}, rpcGroup, 'bench.echo', PLAN.rpc, 'none')),
      // information only: the targets are defined against the plain echo server above
      async () => await withServer(async () => await startBaseline({ batchWrites: true }), async s => await rpcScenario('baseline echo (batched writes)', [s], {}, rpcGroup, 'bench.echo', PLAN.rpc, 'none')),
      async () => await withServer(async () => await startGateway({ methods: true }), async s => await rpcScenario('rpc-local', [s], {}, rpcGroup, 'bench.echo', PLAN.rpc, 'header'))
    ]))
  }
  if (wants('broadcast')) {
    await withLoad(async group => await rounds([
      async () => await withServer(async () => await startBaseline(), async s => await broadcastScenario('baseline send-to-all', [s], group, PLAN.broadcast, 'none')),
      async () => await withServer(async () => await startGateway(), async s => await broadcastScenario('broadcast', [s], group, PLAN.broadcast, 'header'))
    ]))
  }
  if (wants('history')) {
    // One user's 10,000 connections on one node over Redis: the same broadcast with the user's
    // history kept (the publish script) and without it (a plain SPUBLISH), alternating.
    const redis = await startRedis()
    try {
      const fan = { user: 'fan' }
      await withLoad(async group => await rounds([
        async () => await withServer(async () => await startGateway({ redisUrl: redis.url, env: { IPC_HISTORY_USERS: 'false' } }), async s => await broadcastScenario('broadcast to a user, history off', [s], group, PLAN.broadcast, 'header', fan)),
        async () => await withServer(async () => await startGateway({ redisUrl: redis.url, env: { IPC_HISTORY_USERS: 'true' } }), async s => await broadcastScenario('broadcast to a user, history on', [s], group, PLAN.broadcast, 'header', fan))
      ]))
    } finally {
      await redis.proc.stop()
    }
  }
  if (wants('connections')) {
    // Fresh processes, so the RSS difference is the connections' and nothing else's.
    await withLoad(async group => {
      await withServer(async () => await startBaseline(), async s => record(await connectionsScenario('baseline connections', s, group, PLAN.idleConnections, 'none')))
      await withServer(async () => await startGateway(), async s => record(await connectionsScenario('connections', s, group, PLAN.idleConnections, 'message')))
    })
  }
  if (wants('redis')) {
    const redis = await startRedis()
    try {
      await withLoad(async (group, rpcGroup) => { for (const row of await redisScenarios(redis, group, rpcGroup, PLAN, log, skipped)) record(row) })
    } finally {
      await redis.proc.stop()
    }
  }

  if (wants('python')) {
    const redis = await startRedis()
    try {
      await withLoad(async (_group, rpcGroup) => { for (const row of await pythonScenarios(redis, rpcGroup, PLAN.rpc, log)) record(row) })
    } finally {
      await redis.proc.stop()
    }
  }

  if (wants('recover')) {
    const redis = await startRedis()
    try {
      record(await recoverScenario(redis, log))
    } finally {
      await redis.proc.stop()
    }
  }

  if (asked('tracing')) {
    const redis = await startRedis()
    try {
      await withLoad(async (_group, rpcGroup) => { for (const row of await tracingScenario(redis, rpcGroup, PLAN.rpc, log)) record(row) })
    } finally {
      await redis.proc.stop()
    }
  }

  if (asked('scale')) {
    const redis = await startRedis()
    try {
      for (const row of await scaleScenarios(redis, PLAN.rpc, log)) record(row)
    } finally {
      await redis.proc.stop()
    }
  }

  const targets = evaluate(new Map(rows.map(r => [r.scenario, r])))
  process.stdout.write('\n' + table(rows) + '\n\n' + targetsTable(targets) + '\n')
  for (const s of skipped) process.stdout.write(`skipped: ${s}\n`)
  // A partial run must not replace the last full one (bench/README.md quotes it).
  const out = `${root}bench/results.json${only === undefined ? '' : '.tmp'}`
  writeResults(out, rows, targets, startedAt, skipped)
  log(`wrote ${out}`)
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`)
  killAll()
  process.exit(1)
})
