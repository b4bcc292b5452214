// Remote calls through real processes: two gateway nodes (`fastify-ipc serve`) and two workers
// (`fastify-ipc worker`) on one real Redis. Every answer goes back to the call that asked for it;
// a service without workers fails at once; a slow worker's late reply is dropped quietly.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { type Frame, type TestClient } from '../helper.js'
import { methodListed, until } from '../helpers/processes.js'
import { type Cluster, connect, startCluster } from './cluster.js'

let cluster: Cluster

before(async () => {
  cluster = await startCluster({ nodes: ['node-a', 'node-b'], workers: [{ service: 'calc' }, { service: 'calc' }] })
  await methodListed(cluster.gateways, 'calc.echo')
})
after(async () => await cluster?.stop())

let seq = 0
/** A call with its own id and a generous wait (the helper's default is 5 s). */
async function call (c: TestClient, method: string, params: unknown, timeoutMs = 30000): Promise<Frame> {
  const id = `c${++seq}`
  const answer = c.next(f => f.id === id && f.method === undefined, timeoutMs)
  c.send({ jsonrpc: '2.0', id, method, params })
  return await answer
}

async function metric (http: string, name: string): Promise<number> {
  const text = await (await fetch(`${http}/metrics`)).text()
  const line = text.split('\n').find(l => l.startsWith(`${name} `))
  return line === undefined ? 0 : Number(line.split(' ')[1])
}

test('2,000 concurrent calls from clients on both nodes: each gets its own answer', { timeout: 60000 }, async (t) => {
  const [a, b] = cluster.gateways
  const clients = await Promise.all(Array.from({ length: 8 }, async (_, i) => await connect(t, i % 2 === 0 ? a : b, `user${i}`)))
  const nodeOf = (i: number): string => i % 2 === 0 ? 'node-a' : 'node-b'

  const answers = await Promise.all(Array.from({ length: 2000 }, async (_, n) => {
    const i = n % clients.length
    const c = clients[i]
    return { n, i, frame: await call(c, 'calc.echo', { n, tag: `${c.connectionId}/${n}` }) }
  }))

  const workers = new Set<number>()
  for (const { n, i, frame } of answers) {
    assert.equal(frame.error, undefined, `call ${n}: ${JSON.stringify(frame.error)}`)
    const { by, ...rest } = frame.result
    assert.deepEqual(rest, { n, square: n * n, tag: `${clients[i].connectionId}/${n}`, user: `user${i}`, connection: clients[i].connectionId, node: nodeOf(i) }, `call ${n}`)
    workers.add(by)
  }
  assert.deepEqual([...workers].sort(), cluster.workers.map(w => w.child.pid).sort(), 'both workers took a share')
  // no stray frames: nothing answered twice, nothing meant for another call
  for (const c of clients) assert.deepEqual(c.frames, [])
})

test('a service whose workers are gone answers -32050 at once', { timeout: 30000 }, async (t) => {
  const [a, b] = cluster.gateways
  const gone = await cluster.worker('gone')
  await methodListed(cluster.gateways, 'gone.echo')
  const ca = await connect(t, a, 'alice')
  const cb = await connect(t, b, 'bob')
  assert.equal((await call(ca, 'gone.echo', { n: 1, tag: 'x' })).result.n, 1)

  // A graceful stop leaves the worker set; the catalog (the methods hash) stays.
  await gone.kill('SIGTERM')
  assert.equal((await gone.exited).code, 0, gone.output())
  await sleep(1100) // past the gateways' one-second "has a live worker" cache
  for (const c of [ca, cb]) {
    const started = Date.now()
    const res = await call(c, 'gone.echo', { n: 2, tag: 'y' })
    const took = Date.now() - started
    assert.equal(res.error?.code, -32050, JSON.stringify(res))
    assert.match(res.error!.message, /no live worker for service "gone"/)
    assert.ok(took < 1000, `answered after ${took} ms`)
  }
  // the other service is untouched
  assert.equal((await call(cb, 'calc.echo', { n: 3, tag: 'z' })).result.n, 3)
})

test('a slow worker: -32008 at the deadline, its late reply dropped, the node keeps serving', { timeout: 30000 }, async (t) => {
  const [a] = cluster.gateways
  const c = await connect(t, a, 'carol')
  const droppedBefore = await metric(a.http, 'ipc_redis_replies_dropped_total')

  const started = Date.now()
  const res = await call(c, 'calc.slow', { ms: 3000 }) // timeoutMs 800
  const took = Date.now() - started
  assert.equal(res.error?.code, -32008, JSON.stringify(res))
  assert.ok(took >= 750 && took < 2500, `answered after ${took} ms, not at the deadline`)

  // The worker answers anyway, 2.2 s later: the gateway drops that reply and counts it.
  await until(async () => await metric(a.http, 'ipc_redis_replies_dropped_total') > droppedBefore, 8000, 'the late reply to be dropped')
  assert.equal(a.hasExited(), false)
  assert.deepEqual(c.frames, [], 'the client got nothing more for that call')
  assert.equal((await call(c, 'calc.echo', { n: 4, tag: 'after' })).result.n, 4)
  assert.equal((await fetch(`${a.http}/ready`)).status, 200)
  assert.ok(cluster.workers.every(w => !w.hasExited()))
})
