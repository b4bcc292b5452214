// Real processes for multi-process tests: a gateway (`fastify-ipc serve`) or a worker
// (`fastify-ipc worker <module>`), spawned the way people run them and awaited until they serve.
// Every process spawned here is SIGKILLed when the test process exits, whatever happened before.
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { API_KEY, SECRET } from '../helper.js'
import { freePort } from './redis.js'
import { spawnWorker } from '../worker/child.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const START_MS = 30000

export interface Proc {
  child: ChildProcess
  /** the exit code and signal, once it has exited */
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  hasExited (): boolean
  output (): string
  /** sends `signal` (SIGKILL by default) unless it has exited, and waits for the exit */
  kill (signal?: NodeJS.Signals): Promise<void>
}

export interface GatewayProcess extends Proc {
  nodeId: string
  port: number
  /** http://127.0.0.1:<port> */
  http: string
  /** ws://127.0.0.1:<port>/ws */
  url: string
}

export interface WorkerProcess extends Proc {
  service: string
}

const live = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of live) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
})

function track (child: ChildProcess, output: () => string): Proc {
  live.add(child)
  const exited = (child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve([child.exitCode, child.signalCode])
    : once(child, 'exit')).then(([code, signal]) => {
    live.delete(child)
    return { code, signal } as { code: number | null, signal: NodeJS.Signals | null }
  })
  const hasExited = (): boolean => child.exitCode !== null || child.signalCode !== null
  return {
    child,
    exited,
    hasExited,
    output,
    async kill (signal: NodeJS.Signals = 'SIGKILL') {
      if (!hasExited()) child.kill(signal)
      await exited
    }
  }
}

/** Polls `check` every `every` ms until it returns true; throws with `what` after `ms`. */
export async function until (check: () => boolean | Promise<boolean>, ms: number, what: string, every = 50): Promise<void> {
  const end = Date.now() + ms
  for (;;) {
    try {
      if (await check()) return
    } catch {}
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await sleep(every)
  }
}

/**
 * `fastify-ipc serve` on a free port (or env.IPC_PORT, to start a node again where it was) with the
 * test secret and API key (IPC_API_KEYS=backend:API_KEY), resolved once `/health` answers (and
 * `/ready`, unless `ready: false`: Redis may be down on purpose).
 */
export async function startGatewayProcess (env: Record<string, string>, { ready = true } = {}): Promise<GatewayProcess> {
  const port = env.IPC_PORT === undefined ? await freePort() : Number(env.IPC_PORT)
  const nodeId = env.IPC_NODE_ID ?? `node-${port}`
  const { NODE_ENV: _env, IPC_JWT_SECRET: _secret, ...base } = process.env
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve'], {
    cwd: root,
    env: {
      ...base,
      IPC_HOST: '127.0.0.1',
      IPC_PORT: String(port),
      IPC_NODE_ID: nodeId,
      IPC_JWT_SECRET: SECRET,
      IPC_API_KEYS: `backend:${API_KEY}`,
      IPC_LOG_LEVEL: 'warn',
      IPC_RATE_LIMIT: '0',
      IPC_MAX_IN_FLIGHT: '2000',
      IPC_MAX_CONNECTIONS_PER_USER: '0',
      ...env
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr!.on('data', (d: Buffer) => { out += d.toString() })
  const proc = track(child, () => out)
  const http = `http://127.0.0.1:${port}`
  try {
    await until(async () => proc.hasExited() || (await fetch(`${http}/${ready ? 'ready' : 'health'}`)).status === 200,
      START_MS, `gateway ${nodeId} to serve`, 100)
    if (proc.hasExited()) throw new Error('it exited')
  } catch (err) {
    await proc.kill()
    throw new Error(`gateway ${nodeId} did not start (${(err as Error).message}):\n${out}`)
  }
  return { ...proc, nodeId, port, http, url: `ws://127.0.0.1:${port}/ws` }
}

/** `fastify-ipc worker <module>` for `service`, resolved once it has started answering. */
export async function startWorkerProcess (module: string, env: Record<string, string>): Promise<WorkerProcess> {
  const service = env.IPC_WORKER_SERVICE
  const spawned = spawnWorker(env, module)
  const proc = track(spawned.child, spawned.output)
  try {
    await until(() => proc.hasExited() || / started/.test(spawned.output()), START_MS, `worker of ${service} to start`)
    if (proc.hasExited()) throw new Error('it exited')
  } catch (err) {
    await proc.kill()
    throw new Error(`worker of ${service} did not start (${(err as Error).message}):\n${spawned.output()}`)
  }
  return { ...proc, service }
}

/** Resolves once every gateway lists `method` in its /openrpc.json (the workers' catalog reached it). */
export async function methodListed (gateways: GatewayProcess[], method: string, ms = 10000): Promise<void> {
  await Promise.all(gateways.map(async gw => await until(async () => {
    const doc = await (await fetch(`${gw.http}/openrpc.json`)).json() as { methods: Array<{ name: string }> }
    return doc.methods.some(m => m.name === method)
  }, ms, `${method} in the catalog of ${gw.nodeId}`, 100)))
}

/** SIGKILLs whatever is still running among `procs` and waits for every exit. */
export async function killAll (procs: Iterable<Proc>): Promise<void> {
  await Promise.all([...procs].map(async p => await p.kill('SIGKILL')))
}
