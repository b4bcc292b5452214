// `fastify-ipc worker <module>`: a Worker configured from the environment, set up by the module's
// default export `(worker) => void | Promise<void>`, stopped gracefully on SIGTERM/SIGINT.
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import closeWithGrace from 'close-with-grace'
import { EnvError, reader, redisFromEnv, redisSentinelHelp } from '../env.js'
import { consoleLogger } from './log.js'
import { SERVICE } from './method.js'
import { Worker, type WorkerOptions } from './worker.js'

/** What a worker module exports by default. */
export type WorkerModule = (worker: Worker) => void | Promise<void>

export const workerEnvHelp: Record<string, string> = {
  REDIS_URL: 'Redis URL (this or REDIS_SENTINELS is required)',
  REDIS_CLUSTER: 'true when REDIS_URL names one node of a Redis Cluster (false)',
  ...redisSentinelHelp,
  IPC_WORKER_SERVICE: 'the service the module\'s methods belong to (required)',
  IPC_WORKER_CONCURRENCY: 'most requests handled at once (10)',
  IPC_PREFIX: 'Redis key prefix (ipc:)'
}

export function workerOptionsFromEnv (env: NodeJS.ProcessEnv): WorkerOptions {
  const get = reader(env)
  const redis = redisFromEnv(env)
  if (redis === undefined) throw new EnvError('REDIS_URL: required (a redis:// or rediss:// URL), or REDIS_SENTINELS')
  const service = get('IPC_WORKER_SERVICE')
  if (service === undefined || !SERVICE.test(service)) throw new EnvError(`IPC_WORKER_SERVICE${service === undefined ? '' : `=${service}`}: must name the service (letters, digits and _)`)
  const rawConcurrency = get('IPC_WORKER_CONCURRENCY') ?? '10'
  const concurrency = Number(rawConcurrency)
  if (!/^\d+$/.test(rawConcurrency) || concurrency < 1) throw new EnvError(`IPC_WORKER_CONCURRENCY=${rawConcurrency}: must be a whole number >= 1`)
  return { redis: redis.redis, cluster: redis.cluster, service, concurrency, prefix: get('IPC_PREFIX'), logger: consoleLogger }
}

export async function runWorker (path: string | undefined, env: NodeJS.ProcessEnv): Promise<Worker> {
  if (path === undefined) throw new EnvError('worker: the module to run is required (fastify-ipc worker <module>)')
  const options = workerOptionsFromEnv(env)
  const url = /^[a-z]+:/.test(path) ? path : pathToFileURL(resolve(path)).href
  const mod = await import(url) as { default?: unknown }
  if (typeof mod.default !== 'function') throw new EnvError(`${path}: the default export must be a function (worker) => void`)
  const worker = new Worker(options)
  await (mod.default as WorkerModule)(worker)
  closeWithGrace({ delay: 15000 }, async ({ signal, err }) => {
    if (err !== undefined) consoleLogger.error({ err }, 'stopping after an error')
    else consoleLogger.info(`${signal ?? 'exit'}: stopping`)
    await worker.stop()
  })
  await worker.start()
  return worker
}
