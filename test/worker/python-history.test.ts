// The Python publisher sends the gateway's own publish script (docs/protocol.md §9 Events): the text
// in python/fastify_ipc/history.py must be src/broker/history.ts' PUBLISH_LUA.
import { readFile } from 'node:fs/promises'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PUBLISH_LUA } from '../../src/broker/history.js'

test('python/fastify_ipc/history.py holds the same publish script as the gateway', async () => {
  const source = await readFile(new URL('../../python/fastify_ipc/history.py', import.meta.url), 'utf8')
  const match = /PUBLISH_LUA = r"""([\s\S]*?)"""/.exec(source)
  assert.ok(match !== null, 'PUBLISH_LUA not found in history.py')
  assert.equal(match[1].trim(), PUBLISH_LUA.trim())
})
