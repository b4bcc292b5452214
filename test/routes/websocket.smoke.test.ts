import { test } from 'node:test'
import assert from 'node:assert/strict'
import Type from 'typebox'
import { startGateway, TestClient, token } from '../helper.js'

test('a client authenticates, calls a method, joins a room and receives an event', async (t) => {
  const gw = await startGateway({}, app => {
    app.ipc.method('math.add', { params: Type.Object({ a: Type.Number(), b: Type.Number() }) }, ({ a, b }) => ({ sum: a + b }))
  })
  t.after(() => gw.close())
  const client = await TestClient.connect(gw.url, { auth: token({ sub: '42', rooms: ['orders:*'] }) })
  t.after(() => client.close())
  assert.equal(typeof (await client.call('rpc.ping', {})).result.time, 'number')
  assert.deepEqual((await client.call('math.add', { a: 1, b: 2 })).result, { sum: 3 })
  assert.deepEqual((await client.call('rpc.join', { room: 'orders:1' })).result, { room: 'orders:1' })
  await gw.app.ipc.publish({ target: 'room:orders:1', event: 'order.updated', data: { id: 1 } })
  const ev = await client.event('order.updated')
  assert.deepEqual(ev.params, { event: 'order.updated', data: { id: 1 }, target: 'room:orders:1' })
})
