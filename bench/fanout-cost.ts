// What one event costs each gateway node and Redis as nodes are added, when no connection of the
// node wants it (the common case at scale: a room's members sit on a few nodes). The inputs of
// docs/scaling.md: `node --import tsx bench/fanout-cost.ts` (after `npm run build`), on its own.
//
// For each node count: that many gateways on one Redis, none with a connection; a publisher XADDs
// events at a fixed rate to a room nobody joined; CPU time of every process and Redis' network
// output are read before and after.
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { Publisher } from '../src/worker/index.js'
import { cpuSeconds } from './lib/proc-stats.js'
import { installCleanup } from './lib/procs.js'
import { startRedis } from './lib/redis.js'
import { startGateway } from './lib/servers.js'

const NODES = (process.env.FANOUT_NODES ?? '1,2,4,8').split(',').map(Number)
const RATE = Number(process.env.FANOUT_RATE ?? 4000)
const SECONDS = Number(process.env.FANOUT_SECONDS ?? 6)
const DATA = { orderId: 123456, status: 'shipped', items: [{ sku: 'A-1', qty: 2 }, { sku: 'B-7', qty: 1 }], note: 'x'.repeat(40) }

installCleanup()

async function netOut (redis: Redis): Promise<number> {
  const info = await redis.info('stats')
  return Number(/total_net_output_bytes:(\d+)/.exec(info)?.[1])
}

interface Row { nodes: number, events: number, nodeCpuUs: number, redisCpuUs: number, redisOutBytes: number, publisherCpuUs: number }

async function measure (nodes: number): Promise<Row> {
  const redis = await startRedis()
  const gateways = await Promise.all(Array.from({ length: nodes }, async (_, i) => await startGateway({ redisUrl: redis.url, nodeId: `n${i}` })))
  const admin = new Redis(redis.url)
  const publisher = new Publisher({ redis: redis.url })
  try {
    // warm-up: every node reading, the JIT settled
    for (let i = 0; i < RATE; i++) void publisher.toRoom('nobody', 'order.updated', DATA)
    await sleep(1500)
    const pids = gateways.map(g => g.pid)
    const before = { nodes: pids.map(cpuSeconds), redis: cpuSeconds(redis.proc.child.pid!), me: process.cpuUsage(), out: await netOut(admin) }
    let sent = 0
    const started = performance.now()
    // paced in 10 ms slices: the rate the nodes see is the rate asked for
    while (performance.now() - started < SECONDS * 1000) {
      const due = Math.floor((performance.now() - started) / 1000 * RATE)
      const batch: Array<Promise<unknown>> = []
      for (; sent < due; sent++) batch.push(publisher.toRoom('nobody', 'order.updated', DATA))
      await Promise.all(batch)
      await sleep(10)
    }
    await sleep(500) // the last events read
    const me = process.cpuUsage(before.me)
    const nodeCpu = pids.reduce((s, pid, i) => s + cpuSeconds(pid) - before.nodes[i], 0) / nodes
    return {
      nodes,
      events: sent,
      nodeCpuUs: nodeCpu / sent * 1e6,
      redisCpuUs: (cpuSeconds(redis.proc.child.pid!) - before.redis) / sent * 1e6,
      redisOutBytes: (await netOut(admin) - before.out) / sent,
      publisherCpuUs: (me.user + me.system) / sent
    }
  } finally {
    await publisher.close()
    admin.disconnect()
    await Promise.all(gateways.map(async g => await g.proc.stop()))
    await redis.proc.stop()
  }
}

const rows: Row[] = []
for (const n of NODES) rows.push(await measure(n))
console.log(`events at ${RATE}/s for ${SECONDS} s, ${JSON.stringify(DATA).length} B of data, to a room with no member on any node`)
console.log('nodes | CPU µs per event, each node | Redis CPU µs per event | Redis bytes out per event | publisher CPU µs per event')
for (const r of rows) {
  console.log(`${r.nodes} | ${r.nodeCpuUs.toFixed(1)} | ${r.redisCpuUs.toFixed(1)} | ${r.redisOutBytes.toFixed(0)} | ${r.publisherCpuUs.toFixed(1)}`)
}
console.log(JSON.stringify(rows))
