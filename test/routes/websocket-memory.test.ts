// What an open connection keeps: not the HTTP request and response it was upgraded from (about 3 KB
// each, with headers and a logger). plugins/websocket.ts `adopt` lets them go: this test fails if
// @fastify/websocket starts holding them some other way.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import Fastify from 'fastify'
import fastifyIpc from '../../src/index.js'
import { SECRET, TestClient, token } from '../helper.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

test('the upgrade\'s request and response are collected while the connection stays open', async (t) => {
  const app = Fastify({ logger: false })
  const collected = new Set<string>()
  const registry = new FinalizationRegistry<string>(name => collected.add(name))
  // Watches every request from here; the route of fastify-ipc inherits root hooks.
  app.addHook('onRequest', (request, reply, done) => {
    registry.register(request, `request ${request.id}`)
    registry.register(request.raw, `raw request ${request.id}`)
    registry.register(reply.raw, `raw response ${request.id}`)
    done()
  })
  await app.register(fastifyIpc, { jwt: { secret: SECRET } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.after(() => app.close())
  const { port } = app.server.address() as { port: number }

  const clients = await Promise.all(Array.from({ length: 5 }, async (_, i) =>
    await TestClient.connect(`ws://127.0.0.1:${port}/ws`, { token: token({ sub: String(i) }) })))
  for (let round = 0; round < 50 && collected.size < 15; round++) {
    gc()
    await sleep(20)
  }
  assert.equal(collected.size, 15, `collected: ${[...collected].join(', ')}`)
  // ... and the connections still work.
  for (const c of clients) assert.equal(typeof (await c.call('rpc.ping')).result.time, 'number')
  for (const c of clients) c.ws.close()
})
