// Close codes and connection limits (docs/protocol.md §1, §7 and §8): 1003, 1009, 4008, 4029, heartbeat.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import WebSocket from 'ws'
import { startGateway, TestClient, token } from '../helper.js'

test('a binary frame closes the connection with 1003', async (t) => {
  const gw = await startGateway()
  t.after(() => gw.close())
  const client = await TestClient.connect(gw.url, { token: token({ sub: '1' }) })
  client.ws.send(Buffer.from('{"jsonrpc":"2.0","id":1,"method":"rpc.ping"}'))
  assert.equal((await client.closed).code, 1003)
})

test('a frame over maxPayload closes the connection with 1009; one just under is fine', async (t) => {
  const gw = await startGateway({ maxPayload: 1024 })
  t.after(() => gw.close())
  const client = await TestClient.connect(gw.url, { token: token({ sub: '1' }) })
  const fits = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'rpc.ping', params: { pad: '' } })
  const pad = 'x'.repeat(1024 - fits.length)
  assert.equal(typeof (await client.call('rpc.ping', { pad })).result.time, 'number')
  client.send({ jsonrpc: '2.0', id: 2, method: 'rpc.ping', params: { pad: pad + 'x' } })
  assert.equal((await client.closed).code, 1009)
})

test('a client that stops reading is closed with 4008 once maxBufferedBytes is queued', async (t) => {
  const gw = await startGateway({ maxBufferedBytes: 64 * 1024 })
  t.after(() => gw.close())
  const slow = await TestClient.connect(gw.url, { token: token({ sub: 'slow' }) })
  const fast = await TestClient.connect(gw.url, { token: token({ sub: 'fast' }) })
  t.after(() => fast.close())
  // Stop reading: the kernel buffers fill, then the gateway's own queue grows.
  const socket = (slow.ws as any)._socket as { pause(): void, resume(): void }
  socket.pause()
  const data = 'x'.repeat(16 * 1024)
  let code: number | undefined
  void slow.closed.then(c => { code = c.code })
  const slowOpen = (): boolean => [...gw.app.ipcHub.connections.values()].some(c => c.identity?.userId === 'slow')
  for (let i = 0; i < 4000 && slowOpen(); i++) {
    await gw.app.ipc.publish({ target: 'user:slow', event: 'flood', data })
    if (i % 20 === 0) await sleep(1)
  }
  assert.equal(slowOpen(), false, 'the gateway gave up on the slow client')
  assert.equal(code, undefined, 'the slow client has not seen the close yet')
  socket.resume()
  assert.equal((await slow.closed).code, 4008)
  assert.equal(gw.app.ipcHub.connections.size, 1, 'the slow connection is gone from the hub')
  await gw.app.ipc.publish({ target: 'all', event: 'after', data: 1 })
  await fast.event('after')
  const text = await (await fetch(`${gw.http}/metrics`)).text()
  assert.match(text, /^ipc_slow_consumer_closes_total 1$/m)
})

test('frames that are not requests count against the rate limit; past it the client is closed with 1008', async (t) => {
  const gw = await startGateway({ rateLimit: 5 })
  t.after(() => gw.close())
  const client = await TestClient.connect(gw.url, { token: token({ sub: 'junk' }) })
  for (let i = 0; i < 40; i++) client.send(i % 2 === 0 ? 'not json' : '{"jsonrpc":"1.0"}')
  const { code } = await client.closed
  assert.equal(code, 1008)
  const answered = client.frames.filter(f => f.error?.code === -32700 || f.error?.code === -32600).length
  assert.ok(answered >= 5 && answered <= 11, `answered ${answered} junk frames before closing (burst 10)`)
})

test('4029: more connections than maxConnections on the node', async (t) => {
  const gw = await startGateway({ maxConnections: 2 })
  t.after(() => gw.close())
  const a = await TestClient.connect(gw.url)
  const b = await TestClient.connect(gw.url, { token: token({ sub: 'b' }) })
  t.after(() => a.close())
  t.after(() => b.close())
  const c = await TestClient.connect(gw.url, { token: token({ sub: 'c' }) })
  assert.equal((await c.closed).code, 4029)
  await a.close()
  await sleep(20)
  const d = await TestClient.connect(gw.url, { auth: token({ sub: 'd' }) })
  t.after(() => d.close())
  assert.equal(typeof (await d.call('rpc.ping', {})).result.time, 'number', 'a freed slot can be used again')
})

test('4029: more connections of one user than maxConnectionsPerUser, by header and by rpc.auth', async (t) => {
  const gw = await startGateway({ maxConnectionsPerUser: 2 })
  t.after(() => gw.close())
  const tok = token({ sub: 'u' })
  const a = await TestClient.connect(gw.url, { token: tok })
  const b = await TestClient.connect(gw.url, { auth: tok })
  t.after(() => a.close())
  t.after(() => b.close())
  const byHeader = await TestClient.connect(gw.url, { token: tok })
  assert.equal((await byHeader.closed).code, 4029)
  const byMessage = await TestClient.connect(gw.url)
  byMessage.send({ jsonrpc: '2.0', id: 1, method: 'rpc.auth', params: { token: tok } })
  assert.equal((await byMessage.closed).code, 4029)
  const other = await TestClient.connect(gw.url, { token: token({ sub: 'v' }) })
  t.after(() => other.close())
  assert.equal(typeof (await other.call('rpc.ping', {})).result.time, 'number', 'other users are not affected')
  assert.equal(typeof (await a.call('rpc.auth', { token: tok })).result.connectionId, 'string', 'a refresh is not a new connection')
})

test('4029: more connections from one IP than maxConnectionsPerIp', async (t) => {
  const gw = await startGateway({ maxConnectionsPerIp: 2 })
  t.after(() => gw.close())
  const a = await TestClient.connect(gw.url, { token: token({ sub: 'a' }) })
  const b = await TestClient.connect(gw.url, { token: token({ sub: 'b' }) })
  t.after(() => a.close())
  t.after(() => b.close())
  const c = await TestClient.connect(gw.url, { token: token({ sub: 'c' }) })
  assert.equal((await c.closed).code, 4029)
  const metrics = await (await fetch(`${gw.http}/metrics`)).text()
  assert.match(metrics, /^ipc_connections_rejected_total\{reason="too_many_connections"\} 1$/m)
  assert.match(metrics, /^ipc_connections\{state="pending"\} 0$/m, 'the refused connection is not counted')
  assert.match(metrics, /^ipc_connections\{state="authenticated"\} 2$/m)
})

test('heartbeat: a peer that does not answer pings is terminated; one that does stays', async (t) => {
  const gw = await startGateway({ heartbeatMs: 50 })
  t.after(() => gw.close())
  const alive = await TestClient.connect(gw.url, { token: token({ sub: 'alive' }) })
  t.after(() => alive.close())
  const dead = new WebSocket(gw.url, { autoPong: false, headers: { authorization: `Bearer ${token({ sub: 'dead' })}` } })
  const deadClient = new TestClient(dead)
  let pings = 0
  dead.on('ping', () => pings++)
  const { code } = await deadClient.closed
  assert.equal(code, 1006, 'terminated, not closed politely')
  assert.ok(pings >= 2, `pinged ${pings} times before`)
  assert.equal(typeof (await alive.call('rpc.ping', {})).result.time, 'number')
  assert.equal(gw.app.ipcHub.connections.size, 1)
})
