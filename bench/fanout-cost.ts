// What one event costs each gateway node and Redis as nodes are added. The inputs of
// docs/scaling.md: `node --import tsx bench/fanout-cost.ts` (after `npm run build`), on its own.
//
// For each node count and case: that many gateways on one Redis, and a publisher sending events at
// a fixed rate: to a room with no member anywhere (the common case at scale: a room's members sit on
// a few nodes), to a user with no connection (user targets keep history: the publish script), and to
// a room with one member connection on every node (the worst case: every node wants every event).
// CPU time of every process and Redis' network output are read before and after.
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import WebSocket from 'ws'
import { createSigner } from 'fast-jwt'
import { Publisher } from '../src/worker/index.js'
import { cpuSeconds } from './lib/proc-stats.js'
import { installCleanup } from './lib/procs.js'
import { startRedis } from './lib/redis.js'
import { SECRET, startGateway } from './lib/servers.js'

const NODES = (process.env.FANOUT_NODES ?? '1,2,4,8').split(',').map(Number)
const RATE = Number(process.env.FANOUT_RATE ?? 4000)
const SECONDS = Number(process.env.FANOUT_SECONDS ?? 6)
const DATA = { orderId: 123456, status: 'shipped', items: [{ sku: 'A-1', qty: 2 }, { sku: 'B-7', qty: 1 }], note: 'x'.repeat(40) }

installCleanup()

async function netOut (redis: Redis): Promise<number> {
  const info = await redis.info('stats')
  return Number(/total_net_output_bytes:(\d+)/.exec(info)?.[1])
}

interface Case { name: string, target: string, members: boolean }
const CASES: Case[] = [
  { name: 'room, no member', target: 'room:nobody', members: false },
  { name: 'user, no connection', target: 'user:nobody', members: false },
  { name: 'room, a member on every node', target: 'room:nobody', members: true }
]

interface Row { nodes: number, case: string, events: number, nodeCpuUs: number, redisCpuUs: number, redisOutBytes: number, publisherCpuUs: number }

/** one connection on the gateway, a member of `room`, reading (and dropping) what it gets */
async function member (url: string, room: string): Promise<WebSocket> {
  const token = createSigner({ key: SECRET })({ sub: 'member', rooms: ['*'] })
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } })
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  const joined = new Promise(resolve => ws.once('message', resolve))
  ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'rpc.join', params: { room } }))
  await joined
  return ws
}

async function measure (nodes: number, { name, target, members }: Case): Promise<Row> {
  const redis = await startRedis()
  const gateways = await Promise.all(Array.from({ length: nodes }, async (_, i) => await startGateway({ redisUrl: redis.url, nodeId: `n${i}` })))
  const admin = new Redis(redis.url)
  const publisher = new Publisher({ redis: redis.url })
  const sockets = members ? await Promise.all(gateways.map(async g => await member(g.url, 'nobody'))) : []
  try {
    // warm-up: every node reading, the JIT settled
    for (let i = 0; i < RATE; i++) void publisher.publish({ target, event: 'order.updated', data: DATA })
    await sleep(1500)
    const pids = gateways.map(g => g.pid)
    const before = { nodes: pids.map(cpuSeconds), redis: cpuSeconds(redis.proc.child.pid!), me: process.cpuUsage(), out: await netOut(admin) }
    let sent = 0
    const started = performance.now()
    // paced in 10 ms slices: the rate the nodes see is the rate asked for
    while (performance.now() - started < SECONDS * 1000) {
      const due = Math.floor((performance.now() - started) / 1000 * RATE)
      const batch: Array<Promise<unknown>> = []
      for (; sent < due; sent++) batch.push(publisher.publish({ target, event: 'order.updated', data: DATA }))
      await Promise.all(batch)
      await sleep(10)
    }
    await sleep(500) // the last events read
    const me = process.cpuUsage(before.me)
    const nodeCpu = pids.reduce((s, pid, i) => s + cpuSeconds(pid) - before.nodes[i], 0) / nodes
    return {
      nodes,
      case: name,
      events: sent,
      nodeCpuUs: nodeCpu / sent * 1e6,
      redisCpuUs: (cpuSeconds(redis.proc.child.pid!) - before.redis) / sent * 1e6,
      redisOutBytes: (await netOut(admin) - before.out) / sent,
      publisherCpuUs: (me.user + me.system) / sent
    }
  } finally {
    for (const ws of sockets) ws.terminate()
    await publisher.close()
    admin.disconnect()
    await Promise.all(gateways.map(async g => await g.proc.stop()))
    await redis.proc.stop()
  }
}

const rows: Row[] = []
const only = process.env.FANOUT_CASES?.split(';')
for (const c of CASES.filter(c => only === undefined || only.includes(c.name))) for (const n of NODES) rows.push(await measure(n, c))
console.log(`events at ${RATE}/s for ${SECONDS} s, ${JSON.stringify(DATA).length} B of data`)
console.log('case | nodes | CPU µs per event, each node | Redis CPU µs per event | Redis bytes out per event | publisher CPU µs per event')
for (const r of rows) {
  console.log(`${r.case} | ${r.nodes} | ${r.nodeCpuUs.toFixed(1)} | ${r.redisCpuUs.toFixed(1)} | ${r.redisOutBytes.toFixed(0)} | ${r.publisherCpuUs.toFixed(1)}`)
}
console.log(JSON.stringify(rows))
