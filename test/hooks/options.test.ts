// The options and environment variables of hooks, interceptors and JWKS: mapped, and a bad value
// refused with one clear line or an FST_IPC_INVALID_OPTION naming it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { resolveOptions } from '../../src/config.js'
import { EnvError, fromEnv } from '../../src/env.js'

test('the hook, lifecycle and JWKS variables map onto options', () => {
  const { options } = fromEnv({
    IPC_JOIN_METHOD: 'auth.can_join',
    IPC_CONNECT_METHOD: 'auth.connected',
    IPC_DISCONNECT_METHOD: 'gone',
    IPC_JOIN_HOOK_FAILURE: 'allow',
    IPC_CONNECT_HOOK_FAILURE: 'deny',
    IPC_HOOK_TIMEOUT_MS: '500',
    IPC_LIFECYCLE_STREAM: 'true',
    IPC_JWT_JWKS_URL: 'https://issuer.example/.well-known/jwks.json',
    IPC_JWT_JWKS_COOLDOWN_MS: '1000',
    IPC_JWT_ALGORITHMS: 'ES256'
  })
  assert.deepEqual(options, {
    hookTimeoutMs: 500,
    joinMethod: 'auth.can_join',
    connectMethod: 'auth.connected',
    disconnectMethod: 'gone',
    joinHookFailure: 'allow',
    connectHookFailure: 'deny',
    lifecycleStream: true,
    jwt: { jwksUrl: 'https://issuer.example/.well-known/jwks.json', jwksCooldownMs: 1000, algorithms: ['ES256'] }
  })
})

test('a bad hook, lifecycle or JWKS variable is one line naming it', () => {
  const bad: Array<[Record<string, string>, RegExp]> = [
    [{ IPC_JOIN_METHOD: 'rpc.join' }, /^IPC_JOIN_METHOD=rpc.join: must be a method name like auth.can_join$/],
    [{ IPC_CONNECT_METHOD: 'a b' }, /^IPC_CONNECT_METHOD=a b: must be a method name/],
    [{ IPC_JOIN_HOOK_FAILURE: 'maybe' }, /^IPC_JOIN_HOOK_FAILURE=maybe: must be deny or allow$/],
    [{ IPC_CONNECT_HOOK_FAILURE: 'no' }, /^IPC_CONNECT_HOOK_FAILURE=no: must be allow or deny$/],
    [{ IPC_HOOK_TIMEOUT_MS: '0' }, /^IPC_HOOK_TIMEOUT_MS=0: must be a whole number >= 1$/],
    [{ IPC_LIFECYCLE_STREAM: 'yes' }, /^IPC_LIFECYCLE_STREAM=yes: must be true or false$/],
    [{ IPC_JWT_JWKS_URL: 'ftp://x/keys' }, /^IPC_JWT_JWKS_URL=ftp:\/\/x\/keys: must be an http:\/\/ or https:\/\/ URL$/],
    [{ IPC_JWT_JWKS_URL: 'https://x/keys', IPC_JWT_SECRET: 's' }, /^IPC_JWT_JWKS_URL: set it instead of/],
    [{ IPC_JWT_JWKS_COOLDOWN_MS: '-1' }, /^IPC_JWT_JWKS_COOLDOWN_MS=-1: must be a whole number >= 0$/]
  ]
  for (const [env, message] of bad) {
    assert.throws(() => fromEnv(env), (err: Error) => err instanceof EnvError && message.test(err.message) && !err.message.includes('\n'), JSON.stringify(env))
  }
})

test('plugin options: a hook is a function or a worker method, not both; worker hooks need Redis', () => {
  const invalid = (options: object, message: RegExp): void => {
    assert.throws(() => resolveOptions(options as never), (err: Error & { code?: string }) => err.code === 'FST_IPC_INVALID_OPTION' && message.test(err.message), message.source)
  }
  const redis = 'redis://127.0.0.1:6379'
  invalid({ onConnect: 'yes' }, /option "onConnect" must be a function/)
  invalid({ onDisconnect: 1 }, /option "onDisconnect" must be a function/)
  invalid({ redis, canJoin: () => true, joinMethod: 'auth.can_join' }, /set either canJoin or joinMethod, not both/)
  invalid({ redis, onConnect: () => true, connectMethod: 'auth.c' }, /set either onConnect or connectMethod, not both/)
  invalid({ joinMethod: 'auth.can_join' }, /option "joinMethod" needs workers, so "redis"/)
  invalid({ disconnectMethod: 'auth.gone' }, /option "disconnectMethod" needs workers/)
  invalid({ lifecycleStream: true }, /option "lifecycleStream" needs "redis"/)
  invalid({ redis, joinMethod: 'rpc.join' }, /option "joinMethod" must match/)
  invalid({ joinHookFailure: 'maybe' }, /option "joinHookFailure"/)
  invalid({ hookTimeoutMs: 0 }, /option "hookTimeoutMs" must be >= 1/)
  invalid({ jwt: { jwksUrl: 'https://x/k', secret: 's' } }, /set either jwt.jwksUrl or jwt.secret \/ jwt.publicKey, not both/)
  invalid({ jwt: { jwksUrl: 'https://x/k', algorithms: ['HS256'] } }, /HS\* algorithms need jwt.secret, not a JWKS/)
  invalid({ jwt: { jwksUrl: 'file:///etc/keys' } }, /option "jwt.jwksUrl" must match/)
  const ok = resolveOptions({ redis, joinMethod: 'auth.can_join', onConnect: () => true, lifecycleStream: true })
  assert.equal(ok.joinMethod, 'auth.can_join')
  assert.equal(ok.joinHookFailure, 'deny')
  assert.equal(ok.connectHookFailure, 'allow')
  assert.equal(ok.hookTimeoutMs, 2000)
})
