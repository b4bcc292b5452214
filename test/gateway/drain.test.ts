// Drain without Fastify: requests in flight are answered, new ones refused, every socket closed
// with 1001 once it has nothing in flight, all at once or spread over drainSpreadMs.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { TestClient, token } from '../helper.js'
import { gatewayOnWs, type Harness } from './harness.js'

test('drain: an idle connection goes at once; a busy one refuses new requests with -32050, then goes with 1001', async (t) => {
  const { gateway, url, close } = await gatewayOnWs()
  t.after(close)
  let release!: () => void
  const gate = new Promise(resolve => { release = () => resolve({ done: true }) })
  let started = 0
  gateway.api.method('slow.wait', {}, async () => { started++; return await gate })
  const busy = await TestClient.connect(url, { token: token({ sub: '1' }) })
  const idle = await TestClient.connect(url, { token: token({ sub: '2' }) })
  const slow = [busy.call('slow.wait', {}), busy.call('slow.wait', {})]
  while (started < 2) await sleep(1)

  let drained = false
  const draining = gateway.drain(60000).then(() => { drained = true })
  assert.equal(gateway.draining, true)
  assert.deepEqual(await idle.closed, { code: 1001, reason: 'node shutting down' })
  assert.equal((await busy.call('rpc.ping')).error?.code, -32050)
  assert.equal(drained, false, 'still waiting for the requests in flight')
  assert.equal(gateway.connections.size, 1)

  release()
  for (const answer of slow) assert.deepEqual((await answer).result, { done: true })
  await draining
  assert.deepEqual(await busy.closed, { code: 1001, reason: 'node shutting down' })
  assert.equal(gateway.connections.size, 0)
})

test('drain over drainSpreadMs: connections go in batches, those not yet told keep working', async (t) => {
  const { gateway, url, close } = await gatewayOnWs({ drainSpreadMs: 1500 })
  t.after(close)
  const clients = await Promise.all(Array.from({ length: 30 }, async (_, i) => await TestClient.connect(url, { token: token({ sub: String(i) }) })))
  const closedAt: number[] = []
  const start = performance.now()
  for (const c of clients) void c.closed.then(({ code }) => { assert.equal(code, 1001); closedAt.push(performance.now() - start) })
  const draining = gateway.drain(60000)
  await Promise.race(clients.map(async c => await c.closed))
  const open = clients.filter(c => c.ws.readyState === c.ws.OPEN)
  assert.ok(open.length > 15, `${30 - open.length} of 30 went in the first batch`)
  const answers = await Promise.all(open.map(async c => await c.call('rpc.ping').catch(() => null)))
  assert.ok(answers.some(a => a?.result !== undefined), 'a connection not yet told to go still answers')
  await draining
  await Promise.all(clients.map(async c => await c.closed))
  assert.ok(closedAt.at(-1)! - closedAt[0] > 750, `every connection went within ${Math.round(closedAt.at(-1)! - closedAt[0])} ms`)
})

/** A gateway with one client whose request is running, until the test ends. */
async function oneRunning (t: TestContext): Promise<{ gateway: Harness['gateway'], client: TestClient }> {
  const { gateway, url, close } = await gatewayOnWs()
  t.after(close)
  let started = false
  let release!: () => void
  const gate = new Promise(resolve => { release = () => resolve('late') })
  t.after(release)
  gateway.api.method('wait', {}, async () => { started = true; return await gate })
  const client = await TestClient.connect(url, { token: token({ sub: '1' }) })
  client.send({ jsonrpc: '2.0', id: 1, method: 'wait' })
  while (!started) await sleep(1)
  return { gateway, client }
}

test('drain: past its time it closes anyway; the request still running gets no answer', async (t) => {
  const { gateway, client } = await oneRunning(t)
  await gateway.drain(50)
  assert.equal((await client.closed).code, 1001)
  assert.equal(client.frames.length, 0)
})

test('drain: a connection that closes while its requests run does not hold it', async (t) => {
  const { gateway, client } = await oneRunning(t)
  const draining = gateway.drain(60000)
  client.ws.terminate()
  await draining
  assert.equal(gateway.connections.size, 0)
})
