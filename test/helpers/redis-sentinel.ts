// A real Redis Sentinel setup per test file: a master, its replica and one Sentinel watching them,
// each a redis-server on a free port (startRedis), with passwords, an ACL user or TLS when asked.
// `failover()` promotes the replica the way an operator (or the Sentinel, when the master dies) would.
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis, type RedisOptions } from 'ioredis'
import { serverGroup } from './redis.js'
import { makeCerts } from './tls.js'

export const MASTER_NAME = 'ipcmaster'

export interface TestSentinel {
  /** the Sentinel's address, as clients are given it */
  sentinels: Array<{ host: string, port: number }>
  /** the port of the server the Sentinel names master now */
  master (): Promise<number>
  /** promotes the replica; resolves once the Sentinel names it master */
  failover (): Promise<void>
  /** kills the master (SIGKILL); resolves once the Sentinel has found it down and promoted the replica */
  crash (): Promise<void>
  stop (): Promise<void>
  /** with `tls`: the CA file that signed every server's certificate */
  ca?: string
}

export interface SentinelOptions {
  /** the master's and the replica's password (`requirepass`, or the ACL user's with `username`) */
  password?: string
  /** an ACL user with `password` on the master and the replica, whose `default` user is then off */
  username?: string
  /** the Sentinel's own */
  sentinelPassword?: string
  /** every server, the Sentinel included, speaks TLS only */
  tls?: boolean
}

export async function startSentinel ({ password, username, sentinelPassword, tls }: SentinelOptions = {}): Promise<TestSentinel> {
  const group = await serverGroup('ipc-sentinel-')
  const { dir, servers, stop } = group
  try {
    const files = tls === true ? await makeCerts(dir) : undefined
    const secure: RedisOptions = files === undefined ? {} : { tls: { ca: await readFile(files.ca) } }
    const server: RedisOptions = { username, password, ...secure }
    const auth = password === undefined
      ? []
      : username === undefined
        ? ['--requirepass', password, '--masterauth', password]
        : ['--user', 'default', 'off', '--user', username, 'on', `>${password}`, '~*', '&*', '+@all', '--masteruser', username, '--masterauth', password]
    // `--dir`: a replica's sync writes an RDB file there; its first sync at once, not after the
    // default 5 s wait for more replicas; either may become the other's replica: both know the password
    const common = ['--dir', dir, '--repl-diskless-sync-delay', '0', ...auth]
    const master = await group.start(common, { tls: files })
    const replica = await group.start([...common, '--replicaof', '127.0.0.1', String(master.port)], { tls: files })
    // a replica promoted before its first sync would be an empty master
    await synced(master.port, replica.port, server)
    const config = join(dir, 'sentinel.conf')
    // quorum 1: the one Sentinel decides; short timeouts keep a failover within a test's time
    await writeFile(config, [
      `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${master.port} 1`,
      `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
      `sentinel failover-timeout ${MASTER_NAME} 2000`,
      ...(password === undefined ? [] : [`sentinel auth-pass ${MASTER_NAME} ${password}`]),
      ...(username === undefined ? [] : [`sentinel auth-user ${MASTER_NAME} ${username}`]),
      ...(sentinelPassword === undefined ? [] : [`requirepass ${sentinelPassword}`])
    ].join('\n') + '\n')
    const sentinel = await group.start(['--sentinel'], { config, readyLine: '+monitor master', tls: files })
    const ask = async (...args: Array<string | number>): Promise<unknown> => {
      const r = new Redis(sentinel.port, '127.0.0.1', { password: sentinelPassword, ...secure })
      try {
        return await r.call('SENTINEL', ...args)
      } finally {
        r.disconnect()
      }
    }
    const current = async (): Promise<number> => Number((await ask('GET-MASTER-ADDR-BY-NAME', MASTER_NAME) as [string, string])[1])
    const promoted = async (before: number, until: number): Promise<void> => {
      while (await current() === before) {
        if (Date.now() > until) throw new Error('the Sentinel did not promote the replica within 20 s')
        await sleep(100)
      }
    }
    const failover = async (): Promise<void> => {
      const before = await current()
      const until = Date.now() + 20000
      // NOGOODSLAVE until the Sentinel has seen the replica in sync: try again
      for (;;) {
        try {
          await ask('FAILOVER', MASTER_NAME)
          break
        } catch (err) {
          if (Date.now() > until) throw new Error(`SENTINEL FAILOVER kept failing: ${(err as Error).message}`)
          await sleep(200)
        }
      }
      await promoted(before, until)
    }
    const crash = async (): Promise<void> => {
      const before = await current()
      await servers.find(s => s.port === before)!.stop('SIGKILL')
      await promoted(before, Date.now() + 20000)
    }
    return { sentinels: [{ host: '127.0.0.1', port: sentinel.port }], master: current, failover, crash, stop, ca: files?.ca }
  } catch (err) {
    await stop()
    throw err
  }
}

/**
 * Until a write made after the replica's first sync reaches it: only the replication stream can bring
 * it. The link being up is not enough: after a diskless first sync the master holds the stream back
 * until the replica's first ack, up to a second later, and a master crashed in that second took
 * every later write with it (the promoted replica had none of the gateway's or the worker's keys:
 * 1 crash test in 5 under load). A write made before the sync would come in its snapshot instead.
 */
async function synced (master: number, replica: number, options: RedisOptions): Promise<void> {
  const m = new Redis(master, '127.0.0.1', options)
  const r = new Redis(replica, '127.0.0.1', options)
  try {
    const until = Date.now() + 10000
    const check = async (ok: () => Promise<boolean>): Promise<void> => {
      while (!await ok()) {
        if (Date.now() > until) throw new Error(`the replica on port ${replica} did not receive the master's writes within 10 s`)
        await sleep(50)
      }
    }
    await check(async () => (await r.info('replication')).includes('master_link_status:up'))
    const mark = String(Math.random())
    await m.set('sentinel-test:synced', mark)
    await check(async () => await r.get('sentinel-test:synced') === mark)
    await m.del('sentinel-test:synced')
  } finally {
    m.disconnect()
    r.disconnect()
  }
}
