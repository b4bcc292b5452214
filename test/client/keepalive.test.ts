// Silent connection death (no FIN: sleep, NAT or proxy dropping the flow): the client's rpc.ping watchdog
// notices it and reconnects; a healthy idle connection is left alone.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import WebSocket from 'ws'
import { IpcClient, IpcError, type ClientState, type WebSocketConstructor } from '../../src/client/index.js'
import { token } from '../helper.js'
import { nextEvent, portOf, reach, startOn } from './gateway.js'
import { startProxy } from './proxy.js'

const fast = { initialDelayMs: 20, maxDelayMs: 100 }

/** The `ws` class, counting the rpc.ping frames the client sends through it. */
function countingPings (): { WebSocket: WebSocketConstructor, sent: () => number } {
  let sent = 0
  class Counting extends WebSocket {
    override send (data: unknown, ...rest: unknown[]): void {
      if (typeof data === 'string' && data.includes('"method":"rpc.ping"')) sent++
      ;(super.send as (...args: unknown[]) => void)(data, ...rest)
    }
  }
  return { WebSocket: Counting as unknown as WebSocketConstructor, sent: () => sent }
}

test('a healthy idle connection stays: rpc.ping is answered, and server pings count as activity', async (t) => {
  // First in the file, so no earlier test's timers are still running.
  const timers = (): number => process.getActiveResourcesInfo().filter(r => r === 'Timeout').length
  const before = timers()
  // No server pings within the test (default heartbeat): the client's own pings keep proving the connection.
  const quiet = await startOn(0, { shutdownTimeoutMs: 0 })
  t.after(() => quiet.close())
  const pinging = countingPings()
  const a = new IpcClient({ url: quiet.url, token: token({ sub: '1' }), WebSocket: pinging.WebSocket, idleTimeoutMs: 50, pingTimeoutMs: 100 })
  // Server pings every 40 ms: the client never needs to ask.
  const chatty = await startOn(0, { heartbeatMs: 40, shutdownTimeoutMs: 0 })
  t.after(() => chatty.close())
  const listening = countingPings()
  const b = new IpcClient({ url: chatty.url, token: token({ sub: '1' }), WebSocket: listening.WebSocket, idleTimeoutMs: 150, pingTimeoutMs: 100 })
  await Promise.all([a.connect(), b.connect()])
  const ids = [a.connectionId, b.connectionId]
  const states: ClientState[] = []
  for (const c of [a, b]) c.onStateChange(s => states.push(s))
  await sleep(600)
  assert.deepEqual(states, [])
  assert.deepEqual([a.connectionId, b.connectionId], ids)
  assert.ok(pinging.sent() >= 4, `${pinging.sent()} pings`)
  assert.equal(listening.sent(), 0)
  await Promise.all([a.close(), b.close()])
  await Promise.all([quiet.close(), chatty.close()])
  await sleep(100) // the gateways' sockets finish closing
  assert.equal(timers(), before, 'close() cleared the watchdog')
})

test('a connection that dies silently is detected, in-flight calls fail with -32050 and the client reconnects and rejoins', async (t) => {
  const gw = await startOn(0, { heartbeatMs: 100, shutdownTimeoutMs: 0 })
  t.after(() => gw.close())
  const proxy = await startProxy(portOf(gw))
  t.after(() => proxy.close())
  const client = new IpcClient({ url: proxy.url, getToken: () => token({ sub: '42', rooms: ['orders:*'] }), reconnect: fast })
  t.after(() => client.close())
  await client.connect()
  await client.join('orders:1')
  const first = client.connectionId
  const states: ClientState[] = []
  client.onStateChange(s => states.push(s))

  const inFlight = client.call('slow.wait', { ms: 2000 })
  await sleep(20)
  const frozenAt = Date.now()
  proxy.freeze()
  await assert.rejects(inFlight, (err: unknown) => {
    assert.ok(err instanceof IpcError)
    assert.equal(err.code, IpcError.UNAVAILABLE)
    assert.equal(err.message, 'Connection lost')
    assert.deepEqual(err.data, { closeCode: 1006, reason: 'No answer to rpc.ping within 100 ms' })
    return true
  })
  // heartbeatMs of silence, then 100 ms for the ping: far sooner than the call's own end.
  assert.ok(Date.now() - frozenAt < 1000, `detected after ${Date.now() - frozenAt} ms`)
  await reach(client, 'open')
  assert.equal(proxy.flows, 2, 'reconnected through a fresh flow')
  assert.notEqual(client.connectionId, first)
  const ev = nextEvent(client, 'order.updated')
  await gw.app.ipc.publish({ target: 'room:orders:1', event: 'order.updated', data: { n: 1 } })
  assert.deepEqual((await ev).data, { n: 1 }, 'the room was rejoined')
  assert.deepEqual(await client.call('math.add', { a: 1, b: 2 }), { sum: 3 })
  assert.deepEqual(states, ['reconnecting', 'open'])
})
