// Graceful shutdown in-process: every connection closes with 1001, a peer that does not answer the
// close does not hold the server, and nothing the gateway made is left behind.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { drainingGateway, startGateway, TestClient, token } from '../helper.js'

/** Counts of the process's active resources, by type (timers, sockets, servers). */
function resources (): Map<string, number> {
  const counts = new Map<string, number>()
  for (const r of process.getActiveResourcesInfo()) counts.set(r, (counts.get(r) ?? 0) + 1)
  return counts
}

test('close: no timer, socket or server of the gateway outlives it', async () => {
  const before = resources()
  const gw = await startGateway({ heartbeatMs: 20, authTimeoutMs: 60000 })
  const clients = [
    await TestClient.connect(gw.url),
    await TestClient.connect(gw.url, { token: token({ sub: '1' }) }),
    await TestClient.connect(gw.url, { auth: token({ sub: '2' }) })
  ]
  await clients[1].call('rpc.ping', {})
  await gw.close()
  await Promise.all(clients.map(c => c.closed))
  // Sockets finish closing on the next turns of the event loop. Fewer than before is fine: the test
  // runner's own start-up I/O (a connect, a file read on Node 24) may still be under way at `before`.
  const left = (): Array<[string, number]> => [...resources()].filter(([kind, n]) => n > (before.get(kind) ?? 0))
  for (let i = 0; i < 50 && left().length > 0; i++) {
    await new Promise(resolve => setTimeout(resolve, 10))
  }
  assert.deepEqual(left(), [])
})

test('close: pending and authenticated connections all close with 1001', async () => {
  const gw = await startGateway({ publicRooms: ['r'] })
  const pending = await TestClient.connect(gw.url)
  const authed = await TestClient.connect(gw.url, { token: token({ sub: '1' }) })
  await authed.call('rpc.join', { room: 'r' })
  await gw.close()
  assert.deepEqual(await pending.closed, { code: 1001, reason: 'node shutting down' })
  assert.deepEqual(await authed.closed, { code: 1001, reason: 'node shutting down' })
  assert.equal(gw.app.ipcHub.connections.size, 0)
})

test('close: a peer that stops reading does not hold the shutdown for ws\'s 30 s close timeout', async () => {
  const gw = await startGateway()
  const stuck = await TestClient.connect(gw.url, { token: token({ sub: '1' }) })
  const socket = (stuck.ws as any)._socket as { pause(): void, resume(): void }
  socket.pause()
  const started = Date.now()
  await gw.close()
  assert.ok(Date.now() - started < 10000, `closed after ${Date.now() - started} ms`)
  socket.resume()
  await stuck.closed
})

test('close: while in-flight requests drain, new connections are refused', async () => {
  const { gw, client, slow, release, closing } = await drainingGateway()
  await assert.rejects(TestClient.connect(gw.url, { token: token({ sub: '2' }) }), /HTTP 503/)
  release()
  assert.deepEqual((await slow).result, { ok: true })
  assert.equal((await client.closed).code, 1001)
  await closing
})
