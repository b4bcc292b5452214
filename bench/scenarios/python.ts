// One Python worker process (python/fastify_ipc) beside one Node worker process, through the same
// gateway on Redis in the same run: calls/s of an async handler and of a plain one (thread pool).
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import type { LoadGroup } from '../lib/loaders.js'
import { type Proc, forkJs, start } from '../lib/procs.js'
import type { BenchRedis } from '../lib/redis.js'
import type { Row } from '../lib/result.js'
import { startGateway } from '../lib/servers.js'
import { untilCallable } from './redis.js'
import { type RpcPlan, rpcScenario } from './rpc.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const PYTHON = process.env.BENCH_PYTHON ?? '/usr/bin/python3'
// As many calls at once as the load keeps outstanding (100 connections x 8): the async worker reads
// what is there in one XREADGROUP. The thread pool has one thread per slot: fewer, or it thrashes.
const ASYNC_CONCURRENCY = Number(process.env.BENCH_PY_CONCURRENCY ?? 1024)
const SYNC_CONCURRENCY = Number(process.env.BENCH_PY_SYNC_CONCURRENCY ?? 32)

export async function pythonScenarios (redis: BenchRedis, rpcGroup: LoadGroup, plan: RpcPlan, log: (s: string) => void): Promise<Row[]> {
  const gateway = await startGateway({ redisUrl: redis.url, nodeId: 'bench-py' })
  const workers: Proc[] = []
  try {
    const node = forkJs('node-worker', fileURLToPath(new URL('../worker.mjs', import.meta.url)), { REDIS_URL: redis.url, CONCURRENCY: String(ASYNC_CONCURRENCY) })
    workers.push(node)
    await Promise.race([once(node.child, 'message'), once(node.child, 'exit').then(() => { throw new Error(`node worker exited: ${node.output()}`) })])
    const py = await pythonWorker(redis.url, 'pybench', ASYNC_CONCURRENCY)
    const pySync = await pythonWorker(redis.url, 'pysync', SYNC_CONCURRENCY)
    workers.push(py, pySync)
    const rows: Row[] = []
    const redisCpu = [redis.proc.child.pid!]
    for (const [name, method, proc] of [
      ['rpc-redis node worker', 'wbench.echo', node],
      ['rpc-redis python worker (async)', 'pybench.echo', py],
      ['rpc-redis python worker (thread pool)', 'pysync.echo_sync', pySync]
    ] as const) {
      await untilCallable(gateway.url, method)
      const row = await rpcScenario(name, [gateway], { workerCpu: [proc.child.pid!], redisCpu }, rpcGroup, method, plan, 'header')
      log(`${name}: ${Math.round(row.throughput)} calls/s`)
      rows.push(row)
    }
    const [nodeRow, ...pyRows] = rows
    for (const row of pyRows) row.note = `${(row.throughput / nodeRow.throughput).toFixed(2)} x the Node worker in the same run`
    return rows
  } finally {
    await Promise.all(workers.map(async w => await w.stop()))
    await gateway.proc.stop()
  }
}

async function pythonWorker (redisUrl: string, service: string, concurrency: number): Promise<Proc> {
  const proc = start(`python-worker-${service}`, PYTHON, ['-m', 'fastify_ipc', 'worker', 'python_worker:setup'], {
    cwd: fileURLToPath(new URL('../', import.meta.url)),
    env: { PATH: process.env.PATH, PYTHONDONTWRITEBYTECODE: '1', PYTHONPATH: `${root}python`, REDIS_URL: redisUrl, IPC_WORKER_SERVICE: service, IPC_WORKER_CONCURRENCY: String(concurrency) }
  })
  const until = Date.now() + 20000
  while (!proc.output().includes(' started')) {
    if (proc.child.exitCode !== null || Date.now() > until) throw new Error(`python worker ${service} did not start: ${proc.output()}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  return proc
}
