// Generated TypeScript: compiles with tsc --strict, a wrong param type does not, and a program using it
// works against a live gateway (typed calls, a typed error, a typed event).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { generate } from '../../src/codegen/index.js'
import { token } from '../helper.js'
import { startFixture } from './fixture.js'

const run = promisify(execFile)
const root = fileURLToPath(new URL('../../', import.meta.url))
const tsc = join(root, 'node_modules/typescript/bin/tsc')

const program = `import assert from 'node:assert/strict'
import { Api, IpcError, type Events, type OrdersGetResult } from './gen/src/index.js'

const [url, jwt] = process.argv.slice(2)
const api = new Api({ url, token: jwt })
await api.connect()
const order: OrdersGetResult = await api.orders.get({ orderId: 42 })
assert.equal(order.customer.name, 'Ada')
assert.equal(order.items[0].qty, 2)
const listed = await api.orders.list({ status: 'delivered' })
assert.deepEqual(listed.map(o => o.status), ['delivered'])
assert.equal((await api.orders.list())[0].orderId, 42)
const echoed: string = await api.echo({ text: 'hi', from: 'ts' })
assert.equal(echoed, 'ts: hi')
await assert.rejects(api.orders.get({ orderId: 7 }), (e: unknown) => e instanceof IpcError && e.code === IpcError.NOT_FOUND)
const received = new Promise<Events['chat.message']>(resolve => api.on('chat.message', (data, meta) => {
  assert.equal(meta.target, 'room:lobby')
  resolve(data)
}))
await api.client.join('lobby')
await api.chat.say({ room: 'lobby', text: 'hello' })
const message = await received
assert.deepEqual([message.from, message.text], ['42', 'hello'])
await api.close()
console.log('OK')
`

// One intentional mistake per line, each of which strict tsc must report.
const bad = `import { Api } from './gen/src/index.js'

const api = new Api({ url: 'ws://localhost:1/ws' })
await api.orders.get({ orderId: '42' })
await api.orders.list({ status: 'lost' })
await api.math.add({ a: 1 })
api.on('order.updated', data => data.orderID)
api.on('no.such.event', () => {})
`

function tsconfig (files: string[]): string {
  return JSON.stringify({
    extends: './gen/tsconfig.json',
    compilerOptions: {
      noEmit: true,
      rootDir: '/', // the runtime's source lives outside the temp dir
      // The runtime comes from this repository's source instead of an installed fastify-ipc.
      paths: { 'fastify-ipc/client': [join(root, 'src/client/index.ts')] },
      typeRoots: [join(root, 'node_modules/@types')],
      types: ['node']
    },
    include: ['gen/src', ...files]
  })
}

test('generated TypeScript compiles strict, rejects a wrong param type and works against a live gateway', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ipc-ts-'))
  t.after(async () => await rm(dir, { recursive: true, force: true }))
  const gw = await startFixture()
  t.after(async () => await gw.close())
  await generate({ from: `${gw.http}/openrpc.json`, out: join(dir, 'gen'), langs: ['ts'], name: 'shop-client' })
  await writeFile(join(dir, 'package.json'), '{ "type": "module" }')
  await writeFile(join(dir, 'program.ts'), program)
  await writeFile(join(dir, 'bad.ts'), bad)
  await writeFile(join(dir, 'tsconfig.good.json'), tsconfig(['program.ts']))
  await writeFile(join(dir, 'tsconfig.bad.json'), tsconfig(['bad.ts']))

  await t.test('the generated package and a program using it compile with --strict', async () => {
    await run(process.execPath, [tsc, '-p', join(dir, 'tsconfig.good.json'), '--strict']).catch((err: { stdout: string }) => {
      assert.fail(`tsc failed:\n${err.stdout}`)
    })
  })

  await t.test('a wrong param type, enum value, missing param, misspelt field or unknown event fails to compile', async () => {
    const failed = await run(process.execPath, [tsc, '-p', join(dir, 'tsconfig.bad.json'), '--strict']).then(() => null, (err: { stdout: string }) => err.stdout)
    assert.notEqual(failed, null, 'tsc accepted bad.ts')
    const lines = [...(failed ?? '').matchAll(/bad\.ts\((\d+),\d+\): error/g)].map(m => Number(m[1]))
    assert.deepEqual([...new Set(lines)], [4, 5, 6, 7, 8], failed ?? '')
  })

  await t.test('the program passes against the live gateway', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', join(dir, 'program.ts'), gw.url, token({ sub: '42', rooms: ['lobby'] })], {
      cwd: root,
      env: { ...process.env, TSX_TSCONFIG_PATH: join(dir, 'tsconfig.good.json') },
      timeout: 30000
    })
    assert.equal(stdout.trim(), 'OK')
  })
})
