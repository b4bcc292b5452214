// The Python worker SDK keeps its own table of the protocol's error codes (docs/protocol.md §6): it
// must stay the one in src/protocol/errors.ts.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { ErrorCode } from '../../src/protocol/errors.js'

const python = fileURLToPath(new URL('../../python', import.meta.url))

test('fastify_ipc.ErrorCode (Python) is the protocol\'s table', async () => {
  const print = 'import json\nfrom fastify_ipc import ErrorCode\nprint(json.dumps({k: v for k, v in vars(ErrorCode).items() if k.isupper()}))'
  const { stdout } = await promisify(execFile)('/usr/bin/python3', ['-B', '-c', print], { env: { ...process.env, PYTHONPATH: python } })
  assert.deepEqual(JSON.parse(stdout), ErrorCode)
})
