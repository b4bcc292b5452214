// The client across a dropped link (docs/protocol.md §3, §5): a call with an idempotency key is sent
// again on the next connection and answered once from its one run; onRecovery reports each target.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import Type from 'typebox'
import { IpcClient, type RecoveryReport } from '../../src/client/index.js'
import { token } from '../helper.js'
import { portOf, reach, startOn } from './gateway.js'
import { startProxy } from './proxy.js'

const fast = { initialDelayMs: 20, maxDelayMs: 100 }

test('calls in flight with an idempotency key survive a dropped link: run once, answered once; others fail', async (t) => {
  const runs = new Map<string, number>()
  const gw = await startOn(0, {}, app => {
    app.ipc.method('pay.charge', { params: Type.Object({ cents: Type.Integer() }) }, async ({ cents }, ctx) => {
      const key = ctx.idempotencyKey ?? 'none'
      runs.set(key, (runs.get(key) ?? 0) + 1)
      await sleep(400)
      return { cents, key: ctx.idempotencyKey ?? null }
    })
  })
  t.after(() => gw.close())
  const proxy = await startProxy(portOf(gw))
  t.after(() => proxy.close())
  const client = new IpcClient({ url: proxy.url, token: token({ sub: 'u1' }), reconnect: fast, idempotentMethods: ['pay.charge'] })
  t.after(() => client.close())
  await client.connect()

  const chosen = client.call('math.add', { a: 1, b: 2 }, { idempotencyKey: 'my-own-key' })
  const byMethod = client.call<{ key: string }>('pay.charge', { cents: 5 })
  const plain = client.call('slow.wait', { ms: 400 })
  const failed = assert.rejects(plain, /Connection lost/)
  assert.deepEqual(await chosen, { sum: 3 })
  await sleep(100)
  proxy.cut(300)
  await failed
  const answer = await byMethod
  assert.equal(client.state, 'open')
  assert.match(answer.key, /^[0-9a-f]{32}$/, 'a key of 128 random bits')
  assert.deepEqual([...runs.values()], [1], 'the charge ran once')
  assert.equal(proxy.flows, 2)
})

test('onRecovery: after a reconnect each joined room and the user is reported; the user recovers its events, a room without history does not', async (t) => {
  const gw = await startOn(0)
  t.after(() => gw.close())
  const proxy = await startProxy(portOf(gw))
  t.after(() => proxy.close())
  const client = new IpcClient({ url: proxy.url, token: token({ sub: 'u1', rooms: ['r:*'] }), reconnect: fast })
  t.after(() => client.close())
  const reports: RecoveryReport[] = []
  client.onRecovery(r => reports.push(r))
  const got: Array<{ n: number, target: string }> = []
  client.on('tick', (data: { n: number }, meta) => got.push({ n: data.n, target: meta.target }))
  await client.connect()
  await client.join('r:1')
  assert.deepEqual(reports, [], 'nothing to recover on the first connection')
  await gw.app.ipc.publish({ target: 'user:u1', event: 'tick', data: { n: 1 } })
  await gw.app.ipc.publish({ target: 'room:r:1', event: 'tick', data: { n: 1 } })
  await sleep(50) // delivered before the link goes
  proxy.cut(200)
  await reach(client, 'reconnecting')
  for (const n of [2, 3]) {
    await gw.app.ipc.publish({ target: 'user:u1', event: 'tick', data: { n } })
    await gw.app.ipc.publish({ target: 'room:r:1', event: 'tick', data: { n } })
  }
  await reach(client, 'open', 3000)
  await gw.app.ipc.publish({ target: 'user:u1', event: 'tick', data: { n: 4 } })
  await sleep(50)
  assert.deepEqual((reports as RecoveryReport[]).sort((a, b) => a.target.localeCompare(b.target)), [{ target: 'room:r:1', recovered: false }, { target: 'user:u1', recovered: true }])
  assert.deepEqual(got.filter(e => e.target === 'user:u1').map(e => e.n), [1, 2, 3, 4], 'the user missed nothing, in order, once')
  assert.deepEqual(got.filter(e => e.target === 'room:r:1').map(e => e.n), [1], 'the room keeps no history: its report says recovered: false')
})
