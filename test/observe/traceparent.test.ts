// docs/protocol.md §3: what counts as a W3C traceparent, and what is ignored.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { formatTraceparent, parseTraceparent } from '../../src/protocol/traceparent.js'

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
const PARENT = '00f067aa0ba902b7'

test('a traceparent parses into a remote span context and formats back', () => {
  const ctx = parseTraceparent(`00-${TRACE}-${PARENT}-01`)
  assert.deepEqual(ctx, { traceId: TRACE, spanId: PARENT, traceFlags: 1, isRemote: true })
  assert.equal(formatTraceparent(ctx!), `00-${TRACE}-${PARENT}-01`)
  assert.equal(parseTraceparent(`00-${TRACE}-${PARENT}-00`)?.traceFlags, 0)
  // a later version may append fields; it is read as version 00
  assert.deepEqual(parseTraceparent(`01-${TRACE}-${PARENT}-01-what-comes-next`), ctx)
  assert.deepEqual(parseTraceparent(`01-${TRACE}-${PARENT}-01`), ctx)
})

test('what does not parse is ignored', () => {
  for (const bad of [
    `00-${TRACE}-${PARENT}-01-more`, `ff-${TRACE}-${PARENT}-01`, `00-${'0'.repeat(32)}-${PARENT}-01`, `00-${TRACE}-${'0'.repeat(16)}-01`,
    `00-${TRACE.toUpperCase()}-${PARENT}-01`, `00-${TRACE}-${PARENT}`, `00-${TRACE}-${PARENT}-1`, `01-${TRACE}-${PARENT}-01x`, '', 'not a traceparent'
  ]) assert.equal(parseTraceparent(bad), null, bad)
})
