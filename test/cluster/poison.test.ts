// A poison request through a gateway process: its handler kills the worker process every time it
// runs. After 3 deliveries the next worker moves it to the dead-letter stream, and the client that
// called gets -32603 (not a timeout, not silence).
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { Redis } from 'ioredis'
import type { Frame } from '../helper.js'
import { methodListed, until, type WorkerProcess } from '../helpers/processes.js'
import { type Cluster, connect, startCluster } from './cluster.js'

let cluster: Cluster
let raw: Redis

before(async () => {
  cluster = await startCluster({ nodes: ['node-a'], workers: [{ service: 'poison' }] })
  raw = new Redis(cluster.redis.url)
  await methodListed(cluster.gateways, 'poison.crash')
})
after(async () => {
  raw?.disconnect()
  await cluster?.stop()
})

test('a request that crashes its worker every time: dead-letter stream after 3 deliveries, -32603 to the client', { timeout: 50000 }, async (t) => {
  const [a] = cluster.gateways
  const client = await connect(t, a, 'victim')
  const answer = client.next((f: Frame) => f.id === 'poison' && f.method === undefined, 45000)
  client.send({ jsonrpc: '2.0', id: 'poison', method: 'poison.crash', params: {} }) // timeoutMs 40000

  let worker: WorkerProcess = cluster.workers[0]
  let crashes = 0
  let answered = false
  void answer.then(() => { answered = true }, () => {})
  for (;;) {
    await until(() => worker.hasExited() || answered, 15000, 'a crash or an answer')
    if (!worker.hasExited()) break
    assert.equal((await worker.exited).code, 1, worker.output())
    crashes++
    assert.ok(crashes <= 3, `crashed ${crashes} times`)
    worker = await cluster.worker('poison') // like a supervisor restarting it
  }
  assert.equal(crashes, 3)

  const res = await answer
  assert.equal(res.error?.code, -32603, JSON.stringify(res))
  const dead = await raw.xrange('ipc:rpc:poison:dead', '-', '+')
  assert.equal(dead.length, 1)
  const fields = Object.fromEntries(dead[0][1].flatMap((v, i, all) => i % 2 === 0 ? [[v, all[i + 1]]] : []))
  assert.equal(fields.method, 'poison.crash')
  assert.equal(JSON.parse(fields.caller).userId, 'victim')
  assert.equal(JSON.parse(fields.error).code, -32603)
  assert.equal(((await raw.xpending('ipc:rpc:poison', 'workers')) as [number])[0], 0, 'acked')
  // the last worker lives on and serves
  assert.equal((await client.call('poison.echo', { n: 7, tag: 'alive' })).result.n, 7)
  assert.equal(worker.hasExited(), false)
})
