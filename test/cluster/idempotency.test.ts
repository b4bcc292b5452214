// Resumable calls across nodes (docs/protocol.md §3, §9): a worker's call with an idempotencyKey,
// its link dropped mid-run on node A, re-sent on node B, runs once: B waits for A's run and answers it.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { type Cluster, connect, startCluster } from './cluster.js'

let cluster: Cluster

before(async () => {
  cluster = await startCluster({ nodes: ['idem-a', 'idem-b'], workers: [{ service: 'idem' }] })
})
after(async () => await cluster.stop())

const keyed = (id: number, params: unknown, key: string): object => ({ jsonrpc: '2.0', id, method: 'idem.once', params, idempotencyKey: key })

test('a call re-sent on another node while it runs waits for that run: one run, the same answer', async (t) => {
  const [a, b] = cluster.gateways
  const onA = await connect(t, a, 'u1')
  onA.send(keyed(1, { ms: 600, tag: 'x' }, 'order-1'))
  await sleep(150)
  await onA.close() // the link drops; the run goes on
  const onB = await connect(t, b, 'u1')
  onB.send(keyed(1, { ms: 600, tag: 'x' }, 'order-1'))
  const got = await onB.next(f => f.id === 1)
  assert.equal(got.error, undefined, JSON.stringify(got.error))
  const answer = got.result
  assert.equal(answer.key, 'order-1', 'the worker sees the key as ctx.idempotencyKey')
  assert.equal(answer.n, 1)
  // Once stored, any node answers it from Redis, without the worker.
  onB.send(keyed(2, { ms: 600, tag: 'x' }, 'order-1'))
  assert.deepEqual((await onB.next(f => f.id === 2)).result, answer)
  const onA2 = await connect(t, a, 'u1')
  onA2.send(keyed(3, { ms: 600, tag: 'y' }, 'order-1'))
  assert.equal((await onA2.next(f => f.id === 3)).error?.code, -32009)
  const runs = (await onA2.call('idem.runs', {})).result
  assert.equal(runs['idem:order-1'], 1)
  // The record lives in Redis under the user and the key.
  const raw = new Redis(cluster.redis.url)
  t.after(() => raw.disconnect())
  assert.deepEqual(await raw.hkeys('ipc:idem:u1:order-1'), ['fp', 'token', 'answer'])
  assert.ok(await raw.pttl('ipc:idem:u1:order-1') > 50000, 'kept resultTtlMs')
})
