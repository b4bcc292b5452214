// A worker process killed with SIGKILL while it holds requests sent through gateway processes:
// another worker takes every one of them over once the claim time (5 s) passes, and the clients get
// their answers within the method's deadline (timeoutMs 20000). Nothing is lost.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { Redis } from 'ioredis'
import type { Frame } from '../helper.js'
import { methodListed, until } from '../helpers/processes.js'
import { type Cluster, connect, startCluster } from './cluster.js'

let cluster: Cluster
let raw: Redis

before(async () => {
  // The first worker holds every `jobs.hold` request until its deadline: it is the one to kill.
  cluster = await startCluster({ nodes: ['node-a', 'node-b'], workers: [{ service: 'jobs', env: { IPC_TEST_HOLD: '1' } }] })
  raw = new Redis(cluster.redis.url)
  await methodListed(cluster.gateways, 'jobs.hold')
})
after(async () => {
  raw?.disconnect()
  await cluster?.stop()
})

test('requests held by a worker killed with SIGKILL are all answered by the other one', { timeout: 40000 }, async (t) => {
  const [a, b] = cluster.gateways
  const [holder] = cluster.workers
  const clients = [await connect(t, a, 'u1'), await connect(t, b, 'u2'), await connect(t, a, 'u3'), await connect(t, b, 'u4')]

  const sentAt = Date.now()
  const calls = Array.from({ length: 12 }, (_, n) => {
    const c = clients[n % clients.length]
    const id = `hold-${n}`
    const answer = c.next((f: Frame) => f.id === id && f.method === undefined, 30000)
    c.send({ jsonrpc: '2.0', id, method: 'jobs.hold', params: { n } })
    return answer
  })
  const consumers = async (): Promise<Array<[string, string]>> => await raw.xpending('ipc:rpc:jobs', 'workers').then(p => (p as [number, string, string, Array<[string, string]> | null])[3] ?? [])
  await until(async () => (await consumers()).reduce((sum, [, count]) => sum + Number(count), 0) === 12, 5000, 'the first worker to hold all 12 requests')
  assert.equal((await consumers()).length, 1, 'one consumer holds them')

  const rescuer = await cluster.worker('jobs')
  holder.child.kill('SIGKILL')
  await holder.exited
  const killedAt = Date.now()

  const answers = await Promise.all(calls)
  const took = Date.now() - killedAt
  answers.forEach((f, n) => {
    assert.equal(f.error, undefined, `call ${n}: ${JSON.stringify(f.error)}`)
    assert.deepEqual(f.result, { n, by: rescuer.child.pid }, `call ${n}`)
  })
  // by a claim (5 s idle, the holder renewed its claim up to ~3.5 s before), well within the 20 s deadline
  assert.ok(took >= 1000, `taken over ${took} ms after the kill: too early for a claim`)
  assert.ok(Date.now() - sentAt < 20000, `answered ${Date.now() - sentAt} ms after sending`)
  await until(async () => (await consumers()).length === 0, 3000, 'every request acked')
  for (const c of clients) assert.deepEqual(c.frames, [], 'no duplicate answers')
})
