// The client in a real browser: Debian's chromium, driven by playwright-core, loads a page the test
// gateway serves, which imports the esbuild browser bundle of src/client/index.ts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { relative } from 'node:path'
import { build } from 'esbuild'
import { chromium } from 'playwright-core'
import { token } from '../helper.js'
import { startOn } from './gateway.js'

const CHROMIUM = '/usr/bin/chromium'
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']

// Every module the browser bundle may hold: the client, the error table, and ws' browser stub
// (ws' "browser" field swaps it in for the lazy Node fallback, which a browser never reaches).
const ALLOWED = /^(src\/client\/[a-z-]+\.ts|src\/protocol\/errors\.ts|node_modules\/ws\/browser\.js)$/

async function bundle (): Promise<string> {
  // platform 'browser' fails the build on any node: or Node-only import.
  const out = await build({ entryPoints: ['src/client/index.ts'], bundle: true, platform: 'browser', format: 'esm', target: 'es2022', write: false, metafile: true, logLevel: 'silent' })
  for (const input of Object.keys(out.metafile.inputs)) {
    assert.match(relative(process.cwd(), input), ALLOWED, `unexpected module in the browser bundle: ${input}`)
  }
  const js = out.outputFiles[0].text
  assert.doesNotMatch(js, /["']node:|from ["']ws["']|require\(["']ws["']\)/)
  return js
}

test('the browser bundle imports nothing Node-only', async () => {
  await bundle()
})

test('in headless chromium the client connects, calls a method and receives an event', async (t) => {
  // CI installs Debian's chromium (.ci/run); a machine without it fails here rather than skipping.
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is not installed: apt-get install chromium`)
  const js = await bundle()
  const gw = await startOn(0, {}, app => {
    app.get('/client.js', async (_req, reply) => await reply.type('text/javascript').send(js))
    app.get('/', async (_req, reply) => await reply.type('text/html').send(
      '<!doctype html><script type="module">import * as ipc from "/client.js"; window.ipc = ipc</script>'))
  })
  t.after(() => gw.close())
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS })
  t.after(() => browser.close())
  const page = await browser.newPage()
  const errors: string[] = []
  page.on('pageerror', err => errors.push(err.message))
  await page.goto(gw.http + '/')
  await page.waitForFunction('"ipc" in window')

  // Page code goes in as text: tsx would wrap functions passed to page.evaluate in its own helpers.
  const result = await page.evaluate(`(async () => {
    const { IpcClient, IpcError } = window.ipc
    const client = window.client = new IpcClient({ url: ${JSON.stringify(gw.url)}, getToken: async () => ${JSON.stringify(token({ sub: 'browser-user', rooms: ['orders:*'] }))} })
    window.events = []
    client.on('order.updated', (data, meta) => window.events.push({ data, meta }))
    await client.connect()
    await client.join('orders:1')
    const sum = await client.call('math.add', { a: 20, b: 22 })
    const error = await client.call('orders.fail').catch(e => ({ isIpcError: e instanceof IpcError, code: e.code, data: e.data }))
    return { sum, error, userId: client.userId, state: client.state }
  })()`)
  assert.deepEqual(result, {
    sum: { sum: 42 },
    error: { isIpcError: true, code: 4040, data: { orderId: 7 } },
    userId: 'browser-user',
    state: 'open'
  })

  await gw.app.ipc.publish({ target: 'room:orders:1', event: 'order.updated', data: { id: 1, status: 'shipped' } })
  await page.waitForFunction('window.events.length > 0')
  assert.deepEqual(await page.evaluate('window.events'), [
    { data: { id: 1, status: 'shipped' }, meta: { event: 'order.updated', target: 'room:orders:1' } }
  ])
  await page.evaluate('window.client.close()')
  assert.deepEqual(errors, [])
})
