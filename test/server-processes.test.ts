// `fastify-ipc serve --processes N`: N gateway processes on one port, one node each, on one Redis;
// a process that dies is started again; SIGTERM drains every one and the primary exits by itself.
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { TestClient, token } from './helper.js'
import { type GatewayProcess, startGatewayProcess, until } from './helpers/processes.js'
import { startRedis, type TestRedis } from './helpers/redis.js'
import { publishHttp } from './cluster/cluster.js'

const root = fileURLToPath(new URL('../', import.meta.url))
let redis: TestRedis
let gw: GatewayProcess

before(async () => {
  redis = await startRedis()
  gw = await startGatewayProcess({ REDIS_URL: redis.url, IPC_NODE_ID: 'multi', IPC_PROCESSES: '2' })
  // /ready answers as soon as one process serves; the primary says when all do.
  await until(() => gw.output().includes('2 gateway processes listening'), 30000, 'both processes to listen')
})

after(async () => {
  await gw?.kill()
  await redis?.stop()
})

/** authenticated clients until each of `nodes` holds one; returns them with their node */
async function spread (nodes: number): Promise<Array<TestClient & { node: string }>> {
  const clients: Array<TestClient & { node: string }> = []
  for (let i = 0; new Set(clients.map(c => c.node)).size < nodes; i++) {
    assert.ok(i < 40, 'connections never reached every process')
    // a process being started again refuses nothing: the port is the primary's
    const c = await TestClient.connect(gw.url)
    const auth = await c.call('rpc.auth', { token: token({ sub: `u${i}` }) })
    clients.push(Object.assign(c, { node: auth.result.node as string }))
  }
  return clients
}

test('two processes share the port, each its own node, events reach clients of both', async () => {
  const clients = await spread(2)
  assert.deepEqual([...new Set(clients.map(c => c.node))].sort(), ['multi-0', 'multi-1'])
  assert.equal((await publishHttp(gw, { target: 'all', event: 'hello', data: 1 })).status, 200)
  for (const c of clients) assert.equal((await c.event('hello')).params.data, 1)
  await Promise.all(clients.map(async c => await c.close()))
})

test('a process that dies is started again with the same node id', async () => {
  // the primary's gateway processes (tsx gives each an esbuild child too: not those)
  const children = execFileSync('pgrep', ['-P', String(gw.child.pid), '-f', 'cli.ts serve'], { encoding: 'utf8' }).trim().split('\n').map(Number)
  assert.equal(children.length, 2)
  process.kill(children[0], 'SIGKILL')
  await until(() => /gateway process \d exited \(SIGKILL\); starting it again/.test(gw.output()), 5000, 'the primary to notice')
  await until(() => /gateway process \d serves again/.test(gw.output()), 30000, 'the new process to serve')
  const clients = await spread(2)
  assert.deepEqual([...new Set(clients.map(c => c.node))].sort(), ['multi-0', 'multi-1'])
  await Promise.all(clients.map(async c => await c.close()))
})

test('SIGTERM: every process drains, clients get 1001, the primary exits 0', async () => {
  const clients = await spread(2)
  await gw.kill('SIGTERM')
  assert.deepEqual(await gw.exited, { code: 0, signal: null })
  for (const c of clients) assert.equal((await c.closed).code, 1001)
})

test('more than one process on the embedded broker: refused, naming the fix', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve', '--processes', '2'], {
    cwd: root, env: { ...process.env, IPC_PORT: '0', REDIS_URL: '' }, stdio: ['ignore', 'ignore', 'pipe']
  })
  let err = ''
  child.stderr.on('data', (d: Buffer) => { err += d.toString() })
  const [code] = await once(child, 'exit')
  assert.equal(code, 1)
  assert.match(err, /IPC_PROCESSES=2: the embedded broker serves one process; set REDIS_URL/)
})
