// The shipped nginx configuration in front of two gateway processes and a worker, on one Redis:
// clients connect through nginx, calls and events flow, real client addresses reach the gateways,
// and a rolling restart (SIGTERM, start again, one node after the other) under a load of calls
// loses no call, runs none twice and, with recovery, misses no room event.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { after, before, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import WebSocket from 'ws'
import { IpcClient, IpcError, type RecoveryReport } from '../../src/client/index.js'
import { Publisher } from '../../src/worker/publisher.js'
import { ErrorCode } from '../../src/protocol/errors.js'
import { TestClient, token } from '../helper.js'
import { startNginx, type TestNginx } from '../helpers/nginx.js'
import { type GatewayProcess, killAll, methodListed, type Proc, startGatewayProcess, startWorkerProcess, until } from '../helpers/processes.js'
import { startRedis, type TestRedis } from '../helpers/redis.js'
import { WORKER_MODULE, publishHttp } from '../cluster/cluster.js'

let redis: TestRedis
let nginx: TestNginx
let publisher: Publisher
const gateways: GatewayProcess[] = []
const procs: Proc[] = []
const env = (nodeId: string, port?: number): Record<string, string> => ({
  REDIS_URL: redis.url,
  IPC_NODE_ID: nodeId,
  IPC_TRUST_PROXY: 'true',
  IPC_MAX_CONNECTIONS_PER_IP: '1',
  IPC_DRAIN_SPREAD_MS: '2000',
  IPC_HISTORY_ROOMS: 'live',
  IPC_HISTORY_SIZE: '5000',
  ...(port === undefined ? {} : { IPC_PORT: String(port) })
})

before(async () => {
  redis = await startRedis()
  for (const node of ['a', 'b']) {
    const gw = await startGatewayProcess(env(node))
    gateways.push(gw)
    procs.push(gw)
  }
  procs.push(await startWorkerProcess(WORKER_MODULE, { REDIS_URL: redis.url, IPC_WORKER_SERVICE: 'svc', IPC_WORKER_CONCURRENCY: '50' }))
  await methodListed(gateways, 'svc.echo')
  nginx = await startNginx(gateways.map(g => `127.0.0.1:${g.port}`))
  publisher = new Publisher({ redis: redis.url })
})

after(async () => {
  await publisher?.close()
  await nginx?.stop()
  await killAll(procs)
  await redis?.stop()
})

/** A client through nginx from a loopback address of its own. */
async function client (from: string): Promise<TestClient> {
  const ws = new WebSocket(nginx.url, { localAddress: from })
  const c = new TestClient(ws)
  await Promise.race([once(ws, 'open'), c.closed.then(({ code }) => { throw new Error(`closed with ${code}`) })])
  return c
}

test('through nginx: calls, room events from either node, the client address passed through', async t => {
  const alice = await client('127.0.0.2')
  t.after(async () => await alice.close())
  const auth = await alice.call('rpc.auth', { token: token({ sub: 'alice', rooms: ['*'] }) })
  assert.equal(auth.error, undefined)
  assert.equal((await alice.call('svc.echo', { n: 3, tag: 'x' })).result.square, 9)
  assert.equal((await alice.call('rpc.join', { room: 'r' })).error, undefined)
  for (const gw of gateways) {
    assert.equal((await publishHttp(gw, { target: 'room:r', event: 'e', data: gw.nodeId })).status, 200)
    assert.equal((await alice.next(f => f.method === 'rpc.event')).params.data, gw.nodeId)
  }
  // One connection per client address on each node: a second from 127.0.0.2 goes to the other node
  // (least_conn), a third is refused there too; 127.0.0.3 is another address, so it is let in.
  const second = await client('127.0.0.2')
  t.after(async () => await second.close())
  const third = await client('127.0.0.2')
  assert.equal((await third.closed).code, 4029)
  const other = await client('127.0.0.3')
  t.after(async () => await other.close())
  assert.equal((await other.call('rpc.ping', {})).error, undefined)
})

test('rolling restart behind nginx: no call lost or run twice, no event missed, /ready 503 first', async () => {
  const ticks: number[][] = []
  const reports: RecoveryReport[] = []
  const clients = Array.from({ length: 20 }, (_, i) => {
    const c = new IpcClient({
      url: nginx.url,
      WebSocket: class extends WebSocket {
        constructor (url: string) { super(url, { localAddress: `127.0.1.${i + 1}` }) }
      } as unknown as typeof globalThis.WebSocket,
      getToken: () => token({ sub: `user-${i}`, rooms: ['live'] }),
      reconnect: { initialDelayMs: 100, maxDelayMs: 1000 }
    })
    const seen: number[] = ticks[i] = []
    c.on('tick', (data: { seq: number }) => seen.push(data.seq))
    c.onRecovery(r => reports.push(r))
    return c
  })
  await Promise.all(clients.map(async c => { await c.connect(); await c.join('live') }))

  let running = true
  const answered = new Map<string, number>()
  let retries = 0
  // Each client calls without pause, each call with an idempotency key; a call refused by a draining
  // node is sent again with the same key until it is answered (one in flight at a reconnect is re-sent
  // by the client itself).
  const load = clients.map(async (c, i) => {
    for (let k = 0; running; k++) {
      const key = `${i}-${k}`
      for (;;) {
        try {
          const r = await c.call<{ n: number }>('svc.record', { key }, { idempotencyKey: key })
          answered.set(key, (answered.get(key) ?? 0) + 1)
          assert.equal(r.n, 1, `${key} ran ${r.n} times`)
          break
        } catch (err) {
          if (!(err instanceof IpcError) || err.code !== ErrorCode.UNAVAILABLE) throw err
          retries++
          await sleep(20)
        }
      }
    }
  })
  // Room events from the backend the whole time, through Redis whatever node is down.
  let sent = 0
  const events = (async () => {
    while (running) {
      await publisher.toRoom('live', 'tick', { seq: sent++ })
      await sleep(10)
    }
  })()

  for (const [i, gw] of gateways.entries()) {
    await sleep(500)
    const before = answered.size
    void gw.kill('SIGTERM')
    // Readiness turns 503 while the node still answers HTTP, so a balancer stops sending it clients
    // before it stops listening.
    await until(async () => (await fetch(`${gw.http}/ready`).catch(() => null))?.status === 503, 2000, '/ready to turn 503')
    assert.equal(gw.hasExited(), false, 'the node exited before /ready said 503')
    await gw.exited
    const restarted = await startGatewayProcess(env(gw.nodeId, gw.port))
    gateways[i] = restarted
    procs.push(restarted)
    await until(() => answered.size > before + 100, 10000, 'calls to go on after the restart')
  }
  await sleep(500)
  running = false
  await Promise.all([...load, events])
  await until(() => ticks.every(seen => seen.length >= sent), 10000, 'every event to arrive')
  await Promise.all(clients.map(async c => await c.close()))

  // Every client got every event once, in order; every reconnect recovered.
  const all = Array.from({ length: sent }, (_, n) => n)
  for (const [i, seen] of ticks.entries()) assert.deepEqual(seen, all, `client ${i} events`)
  assert.ok(reports.length >= clients.length, `only ${reports.length} recoveries`)
  assert.deepEqual(reports.filter(r => !r.recovered), [])

  // Every call answered once; the worker ran each key exactly once.
  const probe = await client('127.0.0.4')
  await probe.call('rpc.auth', { token: token({ sub: 'probe' }) })
  const runs = (await probe.call('svc.runs', {})).result as Record<string, number>
  await probe.close()
  for (const [key, n] of answered) {
    assert.equal(n, 1, `${key} answered ${n} times`)
    assert.equal(runs[key], 1, `${key} ran ${runs[key]} times`)
  }
  assert.equal(Object.keys(runs).length, answered.size, 'a key ran that was never answered')
  assert.ok(answered.size > 200, `only ${answered.size} calls`)
  console.log(`# ${answered.size} calls, ${retries} retried, ${sent} events to ${clients.length} clients, ${reports.length} recoveries, across two restarts`)
})
