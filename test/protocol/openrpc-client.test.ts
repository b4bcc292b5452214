// The OpenRPC reference client (@open-rpc/client-js) over its WebSocket transport against a real
// gateway: it cannot set headers, so it authenticates with rpc.auth; it sends `"params": []` when a
// call has none, and by-position arrays; batches; server events arrive as its notifications.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Client, JSONRPCError, RequestManager, WebSocketTransport } from '@open-rpc/client-js'
import Type from 'typebox'
import { startGateway, token } from '../helper.js'

test('@open-rpc/client-js: auth, params by name and by position, errors, a batch, events', async (t) => {
  const gw = await startGateway({}, app => {
    app.ipc.method('math.subtract', { params: Type.Object({ minuend: Type.Number(), subtrahend: Type.Number() }) },
      ({ minuend, subtrahend }) => minuend - subtrahend)
    app.ipc.method('clock.now', {}, () => 1767225600000)
  })
  const client = new Client(new RequestManager([new WebSocketTransport(gw.url)]))
  t.after(async () => { client.close(); await gw.close() })
  // Timeout 0: no request timer. client-js does not clear its timers when an answer comes, and each
  // would hold the test process for its 5 s default.
  const call = async (method: string, params?: unknown[] | object): Promise<any> => await client.request({ method, params } as never, 0)

  const auth = await call('rpc.auth', { token: token({ sub: '42' }) })
  assert.equal(auth.userId, '42')

  assert.equal(await call('clock.now'), 1767225600000, 'no params: client-js sends []')
  assert.equal(typeof (await call('rpc.ping')).time, 'number')
  assert.equal(await call('math.subtract', { subtrahend: 23, minuend: 42 }), 19)
  assert.equal(await call('math.subtract', [23, 42]), -19)

  const failure = async (method: string, params?: unknown[] | object): Promise<JSONRPCError> => {
    try {
      await call(method, params)
    } catch (err) {
      assert.ok(err instanceof JSONRPCError, String(err))
      return err
    }
    throw new Error(`${method} succeeded`)
  }
  assert.equal((await failure('math.subtract', [1, 2, 3])).code, -32602)
  assert.equal((await failure('math.subtract', ['a', 2])).code, -32602)
  assert.equal((await failure('math.missing')).code, -32601)
  assert.equal((await failure('rpc.join', ['secret'])).code, -32003)

  client.startBatch()
  const batch = [
    client.request({ method: 'math.subtract', params: [42, 23] }),
    client.request({ method: 'clock.now' }),
    client.request({ method: 'math.missing' })
  ]
  client.stopBatch()
  const settled = await Promise.allSettled(batch)
  assert.deepEqual(settled.slice(0, 2), [{ status: 'fulfilled', value: 19 }, { status: 'fulfilled', value: 1767225600000 }])
  assert.equal(settled[2].status, 'rejected')
  assert.equal(((settled[2] as PromiseRejectedResult).reason as JSONRPCError).code, -32601)

  const notified = new Promise<unknown>(resolve => client.onNotification(resolve))
  const position = await gw.app.ipc.publish({ target: 'user:42', event: 'order.updated', data: { orderId: 7 } })
  assert.deepEqual(await notified, { jsonrpc: '2.0', method: 'rpc.event', params: { event: 'order.updated', data: { orderId: 7 }, target: 'user:42', ...position } })
})
