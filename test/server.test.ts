// The standalone server as a real process: `node --import tsx src/cli.ts serve`, configured by env.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { EnvError, fromEnv } from '../src/env.js'
import { workerOptionsFromEnv } from '../src/worker/run.js'
import { SECRET, TestClient, token } from './helper.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const fixture = fileURLToPath(new URL('./fixtures/slow-methods.ts', import.meta.url))

interface Server {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

function serve (env: Record<string, string>): Server {
  const { IPC_JWT_SECRET: _secret, NODE_ENV: _env, ...base } = process.env
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve'], {
    cwd: root,
    env: { ...base, IPC_HOST: '127.0.0.1', IPC_PORT: '0', IPC_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  let err = ''
  child.stdout!.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr!.on('data', (d: Buffer) => { err += d.toString() })
  const exited = once(child, 'exit').then(([code, signal]) => ({ code, signal })) as Server['exited']
  return { child, stdout: () => out, stderr: () => err, exited }
}

/** Waits for a line of output and returns its first group. */
async function printed (server: Server, pattern: RegExp): Promise<string> {
  const until = Date.now() + 30000
  while (Date.now() < until) {
    const m = pattern.exec(server.stdout())
    if (m !== null) return m[1]
    if (server.child.exitCode !== null) break
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  server.child.kill('SIGKILL')
  throw new Error(`no ${String(pattern)} in the output:\n${server.stdout()}\n${server.stderr()}`)
}

const listening = async (server: Server): Promise<string> => await printed(server, /Server listening at (http:\/\/127\.0\.0\.1:\d+)/)

// Each test spawns its own process; they run side by side to keep the file fast.
describe('standalone server', { concurrency: true }, () => {
  test('a bad environment value stops start-up with one line naming the variable', async () => {
    const server = serve({ IPC_JWT_SECRET: SECRET, IPC_MAX_IN_FLIGHT: '0' })
    assert.equal((await server.exited).code, 1)
    assert.deepEqual(server.stderr().trim().split('\n'), ['fastify-ipc: IPC_MAX_IN_FLIGHT=0: must be a whole number >= 1'])
    // The same check for other variables, without a process each.
    const bad = [['IPC_PORT', 'abc'], ['IPC_HEARTBEAT_MS', '5'], ['IPC_API_KEYS', 'short:key'], ['IPC_JWT_ALGORITHMS', 'none'], ['REDIS_URL', 'http://x'], ['IPC_TRUST_PROXY', 'yes'], ['REDIS_CLUSTER', 'yes'], ['REDIS_CLUSTER', 'true'], ['IPC_PRESENCE_EVENT_ROOMS', 'chat:*,a*b']]
    for (const [name, value] of bad) {
      assert.throws(() => fromEnv({ [name]: value }), (err: Error) => err instanceof EnvError && err.message.startsWith(name) && !err.message.includes('\n'), name)
    }
  })

  test('Redis behind Sentinel: the Sentinels\' addresses, the master\'s name and the passwords, checked', () => {
    const env = { REDIS_SENTINELS: 's1:26380, [::1]:26381,s3', REDIS_SENTINEL_NAME: 'main', REDIS_PASSWORD: 'p1', REDIS_SENTINEL_PASSWORD: 'p2' }
    assert.deepEqual(fromEnv(env).options.redis, {
      sentinels: [{ host: 's1', port: 26380 }, { host: '::1', port: 26381 }, { host: 's3', port: 26379 }],
      name: 'main',
      password: 'p1',
      sentinelPassword: 'p2'
    })
    assert.deepEqual(fromEnv({ REDIS_SENTINELS: 's1:26380' }).options.redis, { sentinels: [{ host: 's1', port: 26380 }], name: 'mymaster' })
    const acl = { REDIS_SENTINELS: 's1', REDIS_USERNAME: 'app', REDIS_DB: '3', REDIS_TLS: 'true', REDIS_SENTINEL_USERNAME: 'watch', REDIS_SENTINEL_TLS: '1' }
    assert.deepEqual(fromEnv(acl).options.redis, {
      sentinels: [{ host: 's1', port: 26379 }],
      name: 'mymaster',
      username: 'app',
      db: 3,
      tls: {},
      enableTLSForSentinelMode: true,
      sentinelUsername: 'watch',
      sentinelTLS: {}
    })
    assert.deepEqual(fromEnv({ REDIS_SENTINELS: 's1', REDIS_TLS: 'false', REDIS_SENTINEL_TLS: 'false' }).options.redis, { sentinels: [{ host: 's1', port: 26379 }], name: 'mymaster' })
    const bad: Array<[Record<string, string>, RegExp]> = [
      [{ REDIS_SENTINELS: 's1:x' }, /^REDIS_SENTINELS=s1:x: each entry must be host:port/],
      [{ REDIS_SENTINELS: 's1:26379,s2:70000' }, /"s2:70000" is not/],
      [{ REDIS_SENTINELS: 's1,' }, /"" is not/],
      [{ REDIS_SENTINELS: 's1', REDIS_URL: 'redis://r' }, /^REDIS_URL and REDIS_SENTINELS: set one, not both$/],
      [{ REDIS_SENTINELS: 's1', REDIS_CLUSTER: 'true' }, /^REDIS_CLUSTER=true: needs REDIS_URL/],
      [{ REDIS_URL: 'redis://r', REDIS_PASSWORD: 'p' }, /^REDIS_PASSWORD: only with REDIS_SENTINELS \(with REDIS_URL, the password goes in the URL\)$/],
      [{ REDIS_URL: 'redis://r', REDIS_DB: '2' }, /^REDIS_DB: only with REDIS_SENTINELS \(with REDIS_URL, the db goes in the URL\)$/],
      [{ REDIS_URL: 'redis://r', REDIS_TLS: 'true' }, /^REDIS_TLS: only with REDIS_SENTINELS \(with REDIS_URL, TLS is rediss:\/\/\)$/],
      [{ REDIS_SENTINEL_NAME: 'main' }, /^REDIS_SENTINEL_NAME: only with REDIS_SENTINELS$/],
      [{ REDIS_SENTINEL_TLS: 'true' }, /^REDIS_SENTINEL_TLS: only with REDIS_SENTINELS$/],
      [{ REDIS_SENTINELS: 's1', REDIS_DB: 'two' }, /^REDIS_DB=two: must be a database number/],
      [{ REDIS_SENTINELS: 's1', REDIS_TLS: 'yes' }, /^REDIS_TLS=yes: must be true or false$/]
    ]
    for (const [env, message] of bad) assert.throws(() => fromEnv(env), (err: Error) => err instanceof EnvError && message.test(err.message), JSON.stringify(env))
    // `fastify-ipc worker` reads the same variables, and needs one of REDIS_URL and REDIS_SENTINELS
    assert.deepEqual(workerOptionsFromEnv({ ...env, IPC_WORKER_SERVICE: 'w' }).redis, fromEnv(env).options.redis)
    assert.throws(() => workerOptionsFromEnv({ IPC_WORKER_SERVICE: 'w' }), /^Error: REDIS_URL: required \(a redis:\/\/ or rediss:\/\/ URL\), or REDIS_SENTINELS$/)
    assert.throws(() => workerOptionsFromEnv({ IPC_WORKER_SERVICE: 'w', REDIS_SENTINELS: 's1', REDIS_URL: 'redis://r' }), /set one, not both/)
  })

  test('NODE_ENV=production without a JWT secret or key refuses to start', async () => {
    const server = serve({ NODE_ENV: 'production' })
    const { code } = await server.exited
    assert.equal(code, 1)
    const lines = server.stderr().trim().split('\n')
    assert.equal(lines.length, 1, server.stderr())
    assert.match(lines[0], /IPC_JWT_SECRET/)
    assert.doesNotMatch(server.stdout(), /Development token/)
  })

  test('without a secret outside production it prints a development token that works', async (t) => {
    const server = serve({ NODE_ENV: 'development' })
    t.after(() => { server.child.kill('SIGKILL') })
    const http = await listening(server)
    const devToken = await printed(server, /Development token[^\n]*\n(\S+)\n/)
    const client = await TestClient.connect(http.replace('http', 'ws') + '/ws')
    const auth = await client.call('rpc.auth', { token: devToken })
    assert.equal(auth.result.userId, 'dev')
    assert.ok(auth.result.expiresAt > Date.now() + 3500_000 && auth.result.expiresAt <= Date.now() + 3600_000)
    assert.deepEqual((await client.call('rpc.join', { room: 'anything' })).result, { room: 'anything' })
    assert.equal(typeof (await client.call('rpc.ping', {})).result.time, 'number')
    assert.equal((await fetch(`${http}/health`)).status, 200)
    await client.close()
    server.child.kill('SIGTERM')
    assert.deepEqual(await server.exited, { code: 0, signal: null })
  })

  test('SIGTERM: the request in flight is answered, sockets close with 1001, the process exits by itself', async (t) => {
    const server = serve({ IPC_JWT_SECRET: SECRET, IPC_METHODS: fixture, IPC_SHUTDOWN_TIMEOUT_MS: '5000' })
    t.after(() => { server.child.kill('SIGKILL') })
    const http = await listening(server)
    const url = http.replace('http', 'ws') + '/ws'
    const client = await TestClient.connect(url, { token: token({ sub: '1' }) })
    const idle = await TestClient.connect(url, { token: token({ sub: '2' }) })
    const answer = client.call('slow.wait', { ms: 400 })
    await client.next(f => f.method === 'rpc.progress')
    server.child.kill('SIGTERM')
    assert.deepEqual((await answer).result, { waited: 400 })
    assert.equal((await client.closed).code, 1001)
    assert.equal((await idle.closed).code, 1001)
    // Exit code 0: the process ended by itself, not killed by close-with-grace's timeout (code 1).
    assert.deepEqual(await server.exited, { code: 0, signal: null })
    await assert.rejects(fetch(`${http}/health`), 'no longer listening')
  })
})
