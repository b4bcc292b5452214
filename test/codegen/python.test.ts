// Generated Python client, run with Debian's python3 (its websockets and pydantic) against a live gateway:
// typed calls, events, typed errors, a timeout, a gateway restart (reconnect, rejoin, in-flight failure), and
// get_token failures (reported at once, bounded retries), and a connection that dies silently behind a frozen proxy.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { generate } from '../../src/codegen/index.js'
import { ErrorCode } from '../../src/protocol/errors.js'
import { token } from '../helper.js'
import { startProxy } from '../client/proxy.js'
import { type Gateway, startFixture } from './fixture.js'

const PYTHON = '/usr/bin/python3'
const program = fileURLToPath(new URL('./program.py', import.meta.url))
const runtime = ['_runtime.py', '_pydantic.py'].map(f => fileURLToPath(new URL(`../../src/codegen/python/${f}`, import.meta.url)))

test('the Python runtime copied into every package compiles and passes pyflakes', async (t) => {
  const cache = await mkdtemp(join(tmpdir(), 'ipc-pyc-'))
  t.after(async () => await rm(cache, { recursive: true, force: true }))
  const run = promisify(execFile)
  // the bytecode goes to a temporary directory, not next to the sources
  await run(PYTHON, ['-m', 'py_compile', ...runtime], { env: { ...process.env, PYTHONPYCACHEPREFIX: cache } })
  await run(PYTHON, ['-m', 'pyflakes', ...runtime])
})

test('the Python runtime\'s error codes are the protocol\'s', async () => {
  const print = 'import json, _runtime\nprint(json.dumps({k: v for k, v in vars(_runtime.IpcError).items() if k.isupper()}))'
  const { stdout } = await promisify(execFile)(PYTHON, ['-B', '-c', print], { env: { ...process.env, PYTHONPATH: dirname(runtime[0]) } })
  assert.deepEqual(JSON.parse(stdout), ErrorCode)
})

test('the generated Python client calls, receives events, raises typed errors and survives a restart', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ipc-py-'))
  t.after(async () => await rm(dir, { recursive: true, force: true }))
  let gw: Gateway = await startFixture()
  t.after(async () => await gw.close())
  await generate({ from: `${gw.http}/openrpc.json`, out: dir, langs: ['python'], name: 'shop-client' })
  // Pings every 100 ms, so the client's watchdog acts fast; reached through a proxy the test can freeze.
  const quick = await startFixture(0, { heartbeatMs: 100, shutdownTimeoutMs: 0 })
  t.after(async () => await quick.close())
  const proxy = await startProxy(quick.port)
  t.after(async () => await proxy.close())

  const child = spawn(PYTHON, ['-X', 'faulthandler', program, gw.url, token({ sub: '42', rooms: ['lobby'] }), proxy.url], { env: { ...process.env, PYTHONPATH: dir }, stdio: ['ignore', 'pipe', 'pipe'] })
  // SIGABRT makes faulthandler print where Python hung.
  const killer = setTimeout(() => child.kill('SIGABRT'), 30000)
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const exited = new Promise<number | null>(resolve => child.on('close', code => resolve(code)))
  const seen: string[] = []
  for await (const line of createInterface({ input: child.stdout })) {
    seen.push(line)
    if (line === 'FREEZE') {
      proxy.freeze()
    } else if (line === 'READY') {
      await gw.app.ipc.publish({ target: 'user:42', event: 'order.updated', data: { orderId: 42, status: 'delivered' } })
    } else if (line === 'RESTART') {
      await gw.close()
      gw = await startFixture(gw.port)
    } else if (line === 'RECONNECTED') {
      await gw.app.ipc.publish({ target: 'room:lobby', event: 'chat.message', data: { from: 'test', text: 'after restart' } })
    }
  }
  const code = await exited
  clearTimeout(killer)
  assert.equal(code, 0, `python exited with ${code}\n${stderr}`)
  assert.deepEqual(seen, ['FREEZE', 'READY', 'RESTART', 'RECONNECTED', 'DONE'])
  assert.equal(proxy.flows, 2, 'reconnected through a fresh flow')
})
