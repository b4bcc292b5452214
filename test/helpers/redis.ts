// A real redis-server per test file, on a free port, with nothing kept on disk.
// Fails loudly when no redis-server binary can be found: tests never skip for want of Redis.
import { spawn, type ChildProcess, execFileSync } from 'node:child_process'
import { createServer } from 'node:net'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TlsFiles } from './tls.js'

export interface TestRedis {
  port: number
  url: string
  /** stops the server (like a crash when `signal` is SIGKILL); `start()` brings it back on the same port */
  stop (signal?: NodeJS.Signals): Promise<void>
  start (): Promise<void>
}

export async function freePort (): Promise<number> {
  const srv = createServer()
  srv.listen(0, '127.0.0.1')
  await once(srv, 'listening')
  const { port } = srv.address() as { port: number }
  await new Promise(resolve => srv.close(resolve))
  return port
}

function binary (): string {
  try {
    return execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim()
  } catch {
    throw new Error('redis-server was not found on PATH: install it (apt-get install redis-server); .ci/run does')
  }
}

export interface StartOptions {
  /** a config file, read first (a Sentinel needs one it can write) */
  config?: string
  /** the log line that says it serves (a Sentinel says `+monitor` instead) */
  readyLine?: string
  /** TLS only, on the port; and to its master, when a replica (or the servers it monitors, when a Sentinel) */
  tls?: TlsFiles
}

/** `args`: extra redis-server options, e.g. `['--rename-command', 'BLMPOP', '']` to play an older Redis */
export async function startRedis (args: string[] = [], { config, readyLine = 'Ready to accept connections', tls }: StartOptions = {}): Promise<TestRedis> {
  const bin = binary()
  const port = await freePort()
  const listen = tls === undefined
    ? ['--port', String(port)]
    : ['--port', '0', '--tls-port', String(port), '--tls-cert-file', tls.cert, '--tls-key-file', tls.key, '--tls-ca-cert-file', tls.ca, '--tls-auth-clients', 'no', '--tls-replication', 'yes']
  let child: ChildProcess | null = null
  const start = async (): Promise<void> => {
    const proc = spawn(bin, [...(config === undefined ? [] : [config]), ...listen, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    child = proc
    let out = ''
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start on port ${port}: ${out}`)), 10000)
      proc.stdout!.on('data', (d: Buffer) => {
        out += d.toString()
        if (out.includes(readyLine)) {
          clearTimeout(timer)
          resolve()
        }
      })
      proc.once('exit', code => {
        clearTimeout(timer)
        reject(new Error(`redis-server exited with ${code}: ${out}`))
      })
    })
    proc.stdout!.resume()
    proc.stderr!.resume()
  }
  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    const proc = child
    if (proc === null || proc.exitCode !== null || proc.signalCode !== null) return
    child = null
    const exited = once(proc, 'exit')
    proc.kill(signal)
    await exited
  }
  await start()
  return { port, url: `${tls === undefined ? 'redis' : 'rediss'}://127.0.0.1:${port}`, stop, start }
}

/** Servers started together, with a directory of their own for the files they write. */
export interface ServerGroup {
  dir: string
  servers: TestRedis[]
  /** startRedis, the server kept in `servers` */
  start (args?: string[], options?: StartOptions): Promise<TestRedis>
  /** stops every server and removes the directory */
  stop (): Promise<void>
}

export async function serverGroup (prefix: string): Promise<ServerGroup> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  const servers: TestRedis[] = []
  return {
    dir,
    servers,
    async start (args, options) {
      const server = await startRedis(args, options)
      servers.push(server)
      return server
    },
    async stop () {
      await Promise.all(servers.map(async s => await s.stop()))
      await rm(dir, { recursive: true, force: true })
    }
  }
}
