// Redis stopped under traffic, then started again, with real gateway and worker processes: calls
// fail fast with -32050, /ready is 503, POST /api/publish is 503, nothing crashes; once Redis is
// back, calls and events work again without restarting anything.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import type { Frame, TestClient } from '../helper.js'
import { type GatewayProcess, methodListed, until } from '../helpers/processes.js'
import { type Cluster, connect, postApi, publishHttp, startCluster } from './cluster.js'

let cluster: Cluster

before(async () => {
  // `late` has one worker, frozen (SIGSTOP) through the outage: it comes back after the gateways.
  cluster = await startCluster({ nodes: ['node-a', 'node-b'], workers: [{ service: 'calc' }, { service: 'calc' }, { service: 'late' }] })
  await methodListed(cluster.gateways, 'calc.echo')
  await methodListed(cluster.gateways, 'late.echo')
})
after(async () => await cluster?.stop())

let seq = 0
async function call (c: TestClient, n: number, method = 'calc.echo'): Promise<{ frame: Frame, ms: number }> {
  const id = `o${++seq}`
  const started = Date.now()
  const answer = c.next(f => f.id === id && f.method === undefined, 15000)
  c.send({ jsonrpc: '2.0', id, method, params: { n, tag: id } })
  const frame = await answer
  return { frame, ms: Date.now() - started }
}

const status = async (gw: GatewayProcess, path: string): Promise<number> => (await fetch(`${gw.http}${path}`)).status

test('Redis stops under traffic and comes back: fast failures, then recovery without restarts', { timeout: 60000 }, async (t) => {
  const { gateways, workers, redis } = cluster
  const late = workers[2]
  // Steady traffic from both nodes for the whole test; every answer is recorded. Stopped first
  // thing after the test (after hooks run in order), before its clients close.
  let running = true
  let traffic: Array<Promise<void>> = []
  t.after(async () => {
    running = false
    late.child.kill('SIGCONT')
    await Promise.allSettled(traffic)
  })
  const clients = [await connect(t, gateways[0], 'u1'), await connect(t, gateways[1], 'u2')]
  const log: Array<{ at: number, code: number | null, ms: number, wrong: boolean }> = []
  traffic = clients.map(async c => {
    let n = 0
    while (running) {
      const { frame, ms } = await call(c, ++n)
      log.push({ at: Date.now(), code: frame.error?.code ?? null, ms, wrong: frame.error === undefined && frame.result.n !== n })
      await sleep(20)
    }
  })
  await until(() => log.filter(x => x.code === null).length >= 20, 10000, 'traffic to flow')

  await redis.stop()
  const stoppedAt = Date.now()
  late.child.kill('SIGSTOP')
  for (const gw of gateways) await until(async () => await status(gw, '/ready') === 503, 3000, `${gw.nodeId} /ready to be 503`)
  const ready = await (await fetch(`${gateways[0].http}/ready`)).json() as { checks: { broker: string } }
  assert.equal(ready.checks.broker, 'down')

  // Fail fast: every call made while Redis is down answers -32050, each well under a second.
  await sleep(2000)
  const down = log.filter(x => x.at > stoppedAt + 1000)
  assert.ok(down.length >= 10, `${down.length} calls during the outage`)
  for (const x of down) {
    assert.equal(x.code, -32050, JSON.stringify(x))
    assert.ok(x.ms < 1000, `a call took ${x.ms} ms during the outage`)
  }

  // Publishing over HTTP: 503 with a clear body, not a 500.
  const res = await publishHttp(gateways[0], { target: 'all', event: 'while.down' })
  assert.equal(res.status, 503)
  assert.equal(res.headers.get('retry-after'), '1')
  // and control, the same
  const control = await postApi(gateways[0], '/api/disconnect', { userId: 'anyone' })
  assert.equal(control.status, 503)
  assert.equal(control.headers.get('retry-after'), '1')
  assert.deepEqual(await res.json(), { error: 'Service Unavailable', message: 'Unavailable: Redis is unreachable', code: -32050 })

  // Nothing crashed: every process runs, /health answers, the clients stay connected.
  for (const gw of gateways) assert.equal(await status(gw, '/health'), 200)
  for (const p of [...gateways, ...workers]) assert.equal(p.hasExited(), false, p.output())
  const metrics = await (await fetch(`${gateways[1].http}/metrics`)).text()
  assert.match(metrics, /^ipc_broker_up 0$/m)

  // Redis returns (empty: no persistence). Everything resumes by itself.
  await redis.start()
  const restartedAt = Date.now()
  // Like another node would, create the request group before the workers are back: they must
  // publish their methods and heartbeat again all the same (no NOGROUP error to tell them).
  const raw = new Redis(redis.url)
  t.after(() => raw.disconnect())
  await raw.xgroup('CREATE', 'ipc:rpc:calc', 'workers', '0', 'MKSTREAM').catch((err: Error) => {
    if (!err.message.startsWith('BUSYGROUP')) throw err // a worker was quicker: fine too
  })
  for (const gw of gateways) await until(async () => await status(gw, '/ready') === 200, 10000, `${gw.nodeId} /ready to be 200 again`)
  // Workers set themselves up again (group, catalog, heartbeat): retry a call through each node, bounded.
  for (const c of clients) {
    await until(async () => (await call(c, 0)).frame.error === undefined, 20000, 'a call through each node to succeed')
  }
  t.diagnostic(`calls succeed again ${Date.now() - restartedAt} ms after Redis restarted`)
  await until(async () => await raw.zcount('ipc:workers:calc', Date.now(), '+inf') === 2, 3000, 'both workers to heartbeat again')
  assert.deepEqual(Object.keys(await raw.hgetall('ipc:methods:calc')).sort(), ['calc.control', 'calc.crash', 'calc.echo', 'calc.hold', 'calc.notify', 'calc.once', 'calc.record', 'calc.runs', 'calc.slow'])

  // Redis came back empty and `late` has not published its methods again yet: the gateways still
  // know them, and answer -32050 (no live worker), not -32601 (no such method).
  for (const c of clients) {
    const { frame, ms } = await call(c, 1, 'late.echo')
    assert.equal(frame.error?.code, -32050, JSON.stringify(frame))
    assert.ok(ms < 1000, `answered after ${ms} ms`)
  }
  late.child.kill('SIGCONT')
  for (const c of clients) {
    await until(async () => (await call(c, 2, 'late.echo')).frame.result?.n === 2, 20000, 'the late worker to answer again')
  }

  // Events flow again across nodes, and HTTP publishing answers 200.
  const ok = await publishHttp(gateways[0], { target: 'all', event: 'back.again', data: { ok: true } })
  assert.equal(ok.status, 200)
  for (const c of clients) assert.deepEqual((await c.event('back.again', 5000)).params.data, { ok: true })

  running = false
  await Promise.all(traffic)
  // The whole run: successes, and -32050 while Redis was away; no timeouts, no internal errors.
  assert.deepEqual(log.filter(x => x.wrong), [], 'every answer was its own call\'s')
  const codes = new Set(log.map(x => x.code))
  assert.deepEqual([...codes].filter(code => code !== null && code !== -32050), [], `unexpected error codes: ${[...codes].join(', ')}`)
  for (const p of [...gateways, ...workers]) assert.equal(p.hasExited(), false, p.output())
})
