// HTTP routes (docs/protocol.md §10) and method discovery: /health, /ready, /metrics, /openrpc.json,
// /api/publish, and rpc.discover.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import Type from 'typebox'
import { API_KEY, drainingGateway, startGateway, TestClient, token, type TestGateway } from '../helper.js'

const AddParams = Type.Object({ a: Type.Number(), b: Type.Number({ description: 'second' }) })
const AddResult = Type.Object({ sum: Type.Number() })

async function gateway (options = {}): Promise<TestGateway> {
  return await startGateway({ publicRooms: ['news'], ...options }, app => {
    app.ipc.method('math.add', { description: 'Adds', params: AddParams, result: AddResult, timeoutMs: 500 }, ({ a, b }) => ({ sum: a + b }))
    app.ipc.method('info.version', { access: 'public' }, () => ({ version: 1 }))
    app.ipc.method('admin.reset', { roles: ['admin'] }, () => ({ ok: true }))
    app.ipc.method('svc.sync', { access: 'service' }, () => ({ ok: true }))
    app.ipc.event('order.updated', { description: 'An order changed', data: Type.Object({ id: Type.Integer() }) })
  })
}

const names = (doc: { methods: Array<{ name: string }> }): string[] => doc.methods.map(m => m.name)

test('GET /health and GET /ready answer 200 while the node runs', async (t) => {
  const gw = await gateway()
  t.after(() => gw.close())
  const health = await fetch(`${gw.http}/health`)
  assert.equal(health.status, 200)
  assert.deepEqual(await health.json(), { status: 'ok' })
  const ready = await fetch(`${gw.http}/ready`)
  assert.equal(ready.status, 200)
  assert.deepEqual(await ready.json(), { status: 'ok', checks: { broker: 'up', draining: false } })
})

test('GET /ready answers 503 while the node drains', async () => {
  const { gw, slow, release, closing } = await drainingGateway()
  assert.equal((await fetch(`${gw.http}/ready`)).status, 503)
  release()
  assert.deepEqual((await slow).result, { ok: true })
  await closing
})

test('GET /openrpc.json lists every in-process method with its schemas, and the events', async (t) => {
  const gw = await gateway()
  t.after(() => gw.close())
  const res = await fetch(`${gw.http}/openrpc.json`)
  assert.equal(res.status, 200)
  const doc = await res.json()
  assert.equal(doc.openrpc, '1.3.2')
  assert.deepEqual(names(doc), ['admin.reset', 'info.version', 'math.add', 'svc.sync'])
  const add = doc.methods.find((m: { name: string }) => m.name === 'math.add')
  assert.equal(add.description, 'Adds')
  assert.equal(add.paramStructure, 'either')
  assert.deepEqual(add.params, [
    { name: 'a', required: true, schema: { type: 'number' } },
    { name: 'b', required: true, schema: { type: 'number', description: 'second' } }
  ])
  assert.deepEqual(add.result.schema, JSON.parse(JSON.stringify(AddResult)))
  assert.deepEqual(add['x-params-schema'], JSON.parse(JSON.stringify(AddParams)))
  assert.equal(add['x-timeout-ms'], 500)
  assert.equal(doc.methods.find((m: { name: string }) => m.name === 'svc.sync')['x-access'], 'service')
  assert.deepEqual(doc.methods.find((m: { name: string }) => m.name === 'admin.reset')['x-roles'], ['admin'])
  assert.deepEqual(doc['x-events'], [{ name: 'order.updated', description: 'An order changed', schema: { type: 'object', properties: { id: { type: 'integer' } }, required: ['id'] } }])
})

test('rpc.discover lists only what the connection may call', async (t) => {
  const gw = await gateway({ allowAnonymous: true })
  t.after(() => gw.close())
  const clients: TestClient[] = []
  t.after(() => Promise.all(clients.map(c => c.close())))
  const discover = async (opts: { token?: string }): Promise<string[]> => {
    const client = await TestClient.connect(gw.url, opts)
    clients.push(client)
    const res = await client.call('rpc.discover', {})
    assert.equal(res.result.openrpc, '1.3.2')
    return names(res.result)
  }
  assert.deepEqual(await discover({ token: token({ sub: 'u' }) }), ['info.version', 'math.add'])
  assert.deepEqual(await discover({ token: token({ sub: 'root', roles: ['admin'] }) }), ['admin.reset', 'info.version', 'math.add'])
  assert.deepEqual(await discover({ token: API_KEY }), ['info.version', 'math.add', 'svc.sync'])
  assert.deepEqual(await discover({}), ['info.version'], 'anonymous: public methods only')
  const anon = clients[clients.length - 1]
  assert.deepEqual((await anon.call('info.version', {})).result, { version: 1 }, 'anonymous access to a public method')
  assert.equal((await anon.call('math.add', { a: 1, b: 1 })).error?.code, -32001)
})

test('GET /metrics: Prometheus text with ipc_ metrics that move with traffic', async (t) => {
  const gw = await gateway()
  t.after(() => gw.close())
  const scrape = async (): Promise<Map<string, number>> => {
    const res = await fetch(`${gw.http}/metrics`)
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/)
    const values = new Map<string, number>()
    for (const line of (await res.text()).split('\n')) {
      if (line === '' || line.startsWith('#')) continue
      assert.match(line, /^ipc_/, 'every metric is prefixed ipc_')
      const at = line.lastIndexOf(' ')
      values.set(line.slice(0, at), Number(line.slice(at + 1)))
    }
    return values
  }
  const before = await scrape()
  assert.equal(before.get('ipc_connections{state="authenticated"}'), 0)
  assert.ok(before.has('ipc_process_cpu_user_seconds_total'), 'default process metrics')

  const client = await TestClient.connect(gw.url, { token: token({ sub: '1', rooms: ['news'] }) })
  const pending = await TestClient.connect(gw.url)
  t.after(() => Promise.all([client, pending].map(c => c.close())))
  await client.call('math.add', { a: 1, b: 2 })
  await client.call('math.add', { a: 1, b: 2 })
  await client.call('nope.nothing', {})
  await client.call('rpc.join', { room: 'news' })
  await gw.app.ipc.publish({ target: 'room:news', event: 'flash', data: 1 })
  await client.event('flash')
  await assert.rejects(TestClient.connect(gw.url, { token: 'bad' }), /HTTP 401/)

  const after = await scrape()
  const delta = (key: string): number => (after.get(key) ?? 0) - (before.get(key) ?? 0)
  assert.equal(after.get('ipc_connections{state="authenticated"}'), 1)
  assert.equal(after.get('ipc_connections{state="pending"}'), 1)
  assert.equal(delta('ipc_connections_accepted_total'), 2)
  assert.equal(delta('ipc_connections_rejected_total{reason="unauthenticated"}'), 1)
  assert.equal(delta('ipc_messages_in_total'), 4)
  assert.equal(delta('ipc_messages_out_total'), 5)
  assert.equal(delta('ipc_rpc_duration_seconds_count{method="math.add",outcome="ok"}'), 2)
  assert.equal(delta('ipc_rpc_duration_seconds_count{method="rpc.join",outcome="ok"}'), 1)
  assert.equal(delta('ipc_rpc_errors_total{code="-32601"}'), 1)
  assert.equal(delta('ipc_events_delivered_total'), 1)
  assert.equal(after.get('ipc_broker_up'), 1)
})

test('POST /api/publish: an API key publishes an event; anything else is refused', async (t) => {
  const gw = await gateway()
  t.after(() => gw.close())
  const client = await TestClient.connect(gw.url, { token: token({ sub: '42' }) })
  t.after(() => client.close())
  const post = async (body: unknown, bearer?: string): Promise<Response> => await fetch(`${gw.http}/api/publish`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(bearer === undefined ? {} : { authorization: `Bearer ${bearer}` }) },
    body: JSON.stringify(body)
  })
  const ok = await post({ target: 'user:42', event: 'order.updated', data: { id: 7 } }, API_KEY)
  assert.equal(ok.status, 200)
  const position = await ok.json() as { offset: string, epoch: string }
  assert.deepEqual(Object.keys(position).sort(), ['epoch', 'offset'], 'a user target keeps history, in memory too')
  assert.deepEqual((await client.event('order.updated')).params, { event: 'order.updated', data: { id: 7 }, target: 'user:42', ...position })

  const event = { target: 'all', event: 'x', data: 1 }
  assert.equal((await post(event)).status, 401)
  assert.equal((await post(event, 'wrong-key-0123456789abcdef')).status, 401)
  assert.equal((await post(event, token({ sub: '42' }))).status, 401, 'a user token is not an API key')
  assert.equal((await post({ target: 'nowhere', event: 'x' }, API_KEY)).status, 400)
  assert.equal((await post({ target: 'all' }, API_KEY)).status, 400)
  await assert.rejects(client.event('x', 50), /no matching frame/)
})
