// Every process the bench starts is registered here and killed when the bench ends, however it ends.
import { type ChildProcess, fork, spawn, type SpawnOptions } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

const children = new Set<ChildProcess>()

function track<T extends ChildProcess> (child: T, name: string): T {
  children.add(child)
  child.once('exit', () => children.delete(child))
  child.once('error', err => process.stderr.write(`bench: ${name}: ${err.message}\n`))
  return child
}

/** Kills every process still running (SIGKILL on a synchronous exit path, where nothing can wait). */
export function killAll (signal: NodeJS.Signals = 'SIGKILL'): void {
  for (const child of children) {
    try { child.kill(signal) } catch {}
  }
}

let installed = false
export function installCleanup (): void {
  if (installed) return
  installed = true
  process.once('exit', () => killAll())
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      killAll()
      process.exit(130)
    })
  }
}

export interface Proc {
  child: ChildProcess
  name: string
  /** the last lines the process wrote, for error messages */
  output (): string
  stop (): Promise<void>
}

function wrap (child: ChildProcess, name: string): Proc {
  track(child, name)
  let out = ''
  const keep = (d: Buffer): void => { out = (out + d.toString()).slice(-4000) }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  return {
    child,
    name,
    output: () => out,
    async stop () {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    }
  }
}

export function start (name: string, command: string, args: string[], options: SpawnOptions = {}): Proc {
  return wrap(spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options }), name)
}

/** A TypeScript child with an IPC channel (load generators, baseline server, workers). */
export function forkTs (name: string, file: string, env: NodeJS.ProcessEnv = {}, execArgv: string[] = []): Proc {
  return wrap(fork(file, [], { execArgv: ['--import', 'tsx', ...execArgv], stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env: { ...process.env, ...env } }), name)
}

/** A plain JS child with an IPC channel: what runs built code, as production does (no tsx in the way). */
export function forkJs (name: string, file: string, env: NodeJS.ProcessEnv = {}, execArgv: string[] = []): Proc {
  return wrap(fork(file, [], { execArgv, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env: { ...process.env, ...env } }), name)
}

export async function freePort (): Promise<number> {
  const srv = createServer()
  srv.listen(0, '127.0.0.1')
  await once(srv, 'listening')
  const { port } = srv.address() as { port: number }
  await new Promise(resolve => srv.close(resolve))
  return port
}

/** Waits until `url` answers 200, or fails with the process's output. */
export async function waitHttp (url: string, proc: Proc, timeoutMs = 20000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    if (proc.child.exitCode !== null) throw new Error(`${proc.name} exited with ${proc.child.exitCode}:\n${proc.output()}`)
    try {
      const res = await fetch(url)
      if (res.ok) return
    } catch {}
    await sleep(100)
  }
  throw new Error(`${proc.name} did not answer ${url} within ${timeoutMs} ms:\n${proc.output()}`)
}
