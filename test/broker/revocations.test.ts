// What a node remembers of revocations: the latest `before` and expiry of a user, expiry honoured,
// expired entries dropped as the list grows, and a cap keeping the newest.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { RevocationList } from '../../src/broker/revocations.js'

const now = 1_767_225_600_000
const iat = (ms: number): number => Math.floor(ms / 1000)

test('a user revocation covers tokens issued before it, a jti one that token, until they expire', () => {
  const list = new RevocationList()
  list.add({ op: 'revoke', userId: 'ada', before: now, expiresAt: now + 60000 }, now)
  list.add({ op: 'revoke', userId: 'ada', before: now - 30000, expiresAt: now + 10000 }, now)
  list.add({ op: 'revoke', jti: 'j1', expiresAt: now + 60000 }, now)
  assert.equal(list.covers({ userId: 'ada', iat: iat(now - 20000) }, now), true, 'the later before is kept')
  assert.equal(list.covers({ userId: 'ada', iat: iat(now + 1000) }, now), false, 'a newer token')
  assert.equal(list.covers({ userId: 'ada' }, now), true, 'no iat: revoked')
  assert.equal(list.covers({ userId: 'ada', iat: iat(now - 20000) }, now + 30000), true, 'the longer expiry is kept')
  assert.equal(list.covers({ userId: 'bob', jti: 'j1', iat: iat(now + 5000) }, now), true)
  assert.equal(list.covers({ userId: 'bob', jti: 'j2', iat: iat(now - 5000) }, now), false)
  assert.equal(list.covers({ userId: 'ada', iat: iat(now - 20000) }, now + 60000), false, 'expired')
})

test('expired entries go as the list grows, and a limit keeps the newest', () => {
  const list = new RevocationList()
  for (let i = 0; i < 5000; i++) list.add({ op: 'revoke', jti: `old-${i}`, expiresAt: now + 1000 }, now)
  // the list prunes whenever it has doubled since the last time: at 8192 entries here
  for (let i = 0; i < 3200; i++) list.add({ op: 'revoke', jti: `new-${i}`, expiresAt: now + 60000 }, now + 2000)
  assert.equal(list.size, 3200, 'the expired ones are gone')
  const capped = new RevocationList(100)
  for (let i = 0; i < 1000; i++) capped.add({ op: 'revoke', jti: `t-${i}`, expiresAt: now + 60000 }, now)
  assert.equal(capped.size, 100)
  assert.equal(capped.covers({ userId: 'x', jti: 't-999' }, now), true)
  assert.equal(capped.covers({ userId: 'x', jti: 't-0' }, now), false)
})
