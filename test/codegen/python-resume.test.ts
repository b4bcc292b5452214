// The Python client runtime across a cut link, against a live gateway (docs/protocol.md §3, §5): it
// recovers its room's and user's events, reports each target to on_recovery, and a call with an
// idempotency key is sent again and answered from its one run.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import Type from 'typebox'
import { token } from '../helper.js'
import { portOf, startOn } from '../client/gateway.js'
import { startProxy } from '../client/proxy.js'

const program = fileURLToPath(new URL('./resume_program.py', import.meta.url))
const runtime = fileURLToPath(new URL('../../src/codegen/python/', import.meta.url))

test('the Python runtime recovers room and user events across a cut link and answers a keyed call once', async (t) => {
  const runs: string[] = []
  const gw = await startOn(0, { historyRooms: ['r:*'] }, app => {
    app.ipc.method('pay.charge', { params: Type.Object({ cents: Type.Integer() }) }, async ({ cents }, ctx) => {
      runs.push(ctx.idempotencyKey ?? '')
      await sleep(500)
      return { cents }
    })
  })
  t.after(() => gw.close())
  const proxy = await startProxy(portOf(gw))
  t.after(() => proxy.close())
  const tick = async (n: number): Promise<void> => {
    for (const target of ['user:u1', 'room:r:1']) await gw.app.ipc.publish({ target, event: 'tick', data: { n } })
  }
  const child = spawn('/usr/bin/python3', ['-B', '-X', 'faulthandler', program, proxy.url, token({ sub: 'u1', rooms: ['r:*'] })],
    { env: { ...process.env, PYTHONPATH: runtime }, stdio: ['ignore', 'pipe', 'pipe'] })
  const killer = setTimeout(() => child.kill('SIGABRT'), 30000)
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const exited = new Promise<number | null>(resolve => child.on('close', code => resolve(code)))
  const seen: string[] = []
  for await (const line of createInterface({ input: child.stdout })) {
    seen.push(line)
    if (line === 'READY') await tick(1)
    else if (line === 'CUT') {
      proxy.cut(300)
      await tick(2)
      await tick(3)
      await sleep(400)
      await tick(4)
    }
  }
  const code = await exited
  clearTimeout(killer)
  assert.equal(code, 0, `python exited with ${code}\n${stderr}`)
  assert.deepEqual([seen[0], seen[1], seen[3]], ['READY', 'CUT', 'DONE'])
  const out = JSON.parse(seen[2]) as { result: unknown, events: Array<[string, number, boolean]>, reports: unknown }
  assert.deepEqual(out.result, { cents: 7 })
  assert.equal(runs.length, 1, 'the keyed call ran once')
  assert.match(runs[0], /^[0-9a-f]{32}$/)
  for (const target of ['user:u1', 'room:r:1']) {
    assert.deepEqual(out.events.filter(e => e[0] === target).map(e => e[1]), [1, 2, 3, 4], `${target}: every event once, in order`)
  }
  assert.ok(out.events.every(e => e[2]), 'events of history targets carry their epoch')
  assert.deepEqual(out.reports, [['room:r:1', true], ['user:u1', true]])
})
