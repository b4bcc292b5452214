// The shipped nginx configuration in front of two gateway processes and a worker, on one Redis:
// clients connect through nginx, calls and events flow, real client addresses reach the gateways.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { after, before, test } from 'node:test'
import WebSocket from 'ws'
import { TestClient, token } from '../helper.js'
import { startNginx, type TestNginx } from '../helpers/nginx.js'
import { type GatewayProcess, killAll, methodListed, type Proc, startGatewayProcess, startWorkerProcess } from '../helpers/processes.js'
import { startRedis, type TestRedis } from '../helpers/redis.js'
import { WORKER_MODULE, publishHttp } from '../cluster/cluster.js'

let redis: TestRedis
let nginx: TestNginx
const gateways: GatewayProcess[] = []
const procs: Proc[] = []
const env = (nodeId: string, port?: number): Record<string, string> => ({
  REDIS_URL: redis.url,
  IPC_NODE_ID: nodeId,
  IPC_TRUST_PROXY: 'true',
  IPC_MAX_CONNECTIONS_PER_IP: '1',
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
})

after(async () => {
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
