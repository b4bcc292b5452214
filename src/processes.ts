// `serve --processes N`: N gateway processes on one port through Node's cluster module, one node
// each, sharing Redis. The primary serves nothing itself: it starts the processes, starts one again
// when it dies, and on SIGTERM or SIGINT asks each to drain and waits for them.
import cluster, { type Worker } from 'node:cluster'
import { once } from 'node:events'
import { EnvError, type ServerConfig } from './env.js'
import { developmentSecret, SHUTDOWN } from './server.js'
const RESTART_MS = 1000

export async function serveProcesses (config: ServerConfig, count: number): Promise<void> {
  if (config.options.redis === undefined) {
    throw new EnvError(`IPC_PROCESSES=${count}: the embedded broker serves one process; set REDIS_URL (or REDIS_SENTINELS) so the processes share events, presence and replies, or run one process`)
  }
  // One development secret for all, or a token minted by one process would fail in the others.
  const dev = developmentSecret(config.options)
  const env: Record<string, string> = { IPC_PROCESSES: '1', ...(dev === null ? {} : { IPC_JWT_SECRET: dev.secret }) }
  const base = config.options.nodeId
  const workers = new Map<number, Worker>()
  const serving = new Set<Worker>()
  let stopping = false

  const start = (index: number, again = false): Promise<void> => {
    const worker = cluster.fork({ ...env, ...(base === undefined ? {} : { IPC_NODE_ID: `${base}-${index}` }) })
    workers.set(index, worker)
    let listening = false
    worker.once('exit', (code, signal) => {
      workers.delete(index)
      serving.delete(worker)
      if (stopping) return
      if (!listening) {
        // It never served: a configuration error every process would meet again (it said which).
        process.stderr.write(`fastify-ipc: gateway process ${index} exited before it served (${signal ?? code}); stopping\n`)
        void stop(1)
        return
      }
      process.stderr.write(`fastify-ipc: gateway process ${index} exited (${signal ?? code}); starting it again\n`)
      setTimeout(() => { if (!stopping) void start(index, true) }, RESTART_MS).unref()
    })
    return new Promise(resolve => worker.once('listening', () => {
      listening = true
      serving.add(worker)
      if (again) process.stdout.write(`fastify-ipc: gateway process ${index} serves again\n`)
      resolve()
    }))
  }

  const stop = async (code: number): Promise<void> => {
    if (stopping) return
    stopping = true
    const running = [...workers.values()]
    for (const worker of running) {
      // One still starting has nothing to drain, and would not hear the message yet.
      if (serving.has(worker) && worker.isConnected()) worker.send(SHUTDOWN)
      else worker.process.kill('SIGTERM')
    }
    // Each process drains on its own clock (IPC_SHUTDOWN_TIMEOUT_MS) and exits; waiting is enough.
    const exits = await Promise.all(running.map(async w => w.process.exitCode ?? (await once(w, 'exit'))[0] as number | null))
    process.exit(code !== 0 ? code : exits.every(c => c === 0) ? 0 : 1)
  }
  // A terminal's Ctrl-C reaches the processes too; the message makes sure a `kill` of the primary does.
  process.once('SIGTERM', () => { void stop(0) })
  process.once('SIGINT', () => { void stop(0) })

  await Promise.all(Array.from({ length: count }, async (_, i) => await start(i)))
  process.stdout.write(`fastify-ipc: ${count} gateway processes listening on ${config.host}:${config.port}\n`)
  if (dev !== null) process.stdout.write(dev.banner)
}
