// Standalone: configuration from the environment -> Fastify -> listen, with graceful shutdown.
import cluster from 'node:cluster'
import { randomBytes } from 'node:crypto'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import closeWithGrace from 'close-with-grace'
import { createSigner } from 'fast-jwt'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyIpc from './app.js'
import type { FastifyIpcOptions } from './config.js'
import { type ServerConfig } from './env.js'
import type { IpcApi } from './gateway/api.js'
import { InvalidOptionError } from './errors.js'

/** what the primary of `serve --processes N` sends a gateway process to shut it down gracefully */
export const SHUTDOWN = 'fastify-ipc:shutdown'

/** A module named by IPC_METHODS / --methods: its default export registers methods. */
export type MethodsModule = (ipc: IpcApi, app: FastifyInstance) => void | Promise<void>

export async function startServer (config: ServerConfig): Promise<FastifyInstance> {
  const options = { ...config.options }
  const dev = developmentSecret(options)

  const app = Fastify({ logger: { level: config.logLevel }, trustProxy: config.trustProxy })
  await app.register(fastifyIpc, options)
  if (config.methods !== undefined) await loadMethods(app, config.methods)

  const shutdownMs = (options.drainSpreadMs ?? 0) + (options.shutdownTimeoutMs ?? 10000)
  // In a process of `serve --processes N` the primary decides when to stop (a terminal's Ctrl-C
  // reaches every process of the group; a second signal would end the drain): it sends SHUTDOWN.
  const inGroup = cluster.isWorker
  let closing = false
  const grace = closeWithGrace({ delay: shutdownMs + 5000, skip: inGroup ? ['SIGINT'] : [] }, async ({ signal, err }) => {
    closing = true
    if (err !== undefined) app.log.error({ err }, 'shutting down after an error')
    else app.log.info({ signal: signal ?? 'asked by the primary process' }, 'shutting down')
    await app.close()
  })
  if (inGroup) {
    process.on('SIGINT', () => {})
    process.on('message', message => { if (message === SHUTDOWN && !closing) void grace.close() })
  }

  await app.listen({ port: config.port, host: config.host })
  if (dev !== null) {
    app.log.warn('No IPC_JWT_SECRET set: using a random development secret. Never do this in production.')
    process.stdout.write(dev.banner)
  }
  return app
}

/**
 * Without a JWT secret, key or JWKS URL (and outside production), a random secret is set in `options` and a
 * token for user `dev` is made with it; null when one is configured.
 */
export function developmentSecret (options: FastifyIpcOptions): { secret: string, banner: string } | null {
  if (options.jwt?.secret !== undefined || options.jwt?.publicKey !== undefined || options.jwt?.jwksUrl !== undefined) return null
  if (process.env.NODE_ENV === 'production') {
    throw new InvalidOptionError('IPC_JWT_SECRET, IPC_JWT_PUBLIC_KEY or IPC_JWT_JWKS_URL is required when NODE_ENV=production')
  }
  const secret = randomBytes(32).toString('base64url')
  options.jwt = { ...options.jwt, secret }
  const token = signToken(secret, { sub: 'dev', rooms: ['*'] }, 3600)
  return { secret, banner: `\nDevelopment token (user "dev", any room, valid 1 hour):\n${token}\n\n` }
}

export async function loadMethods (app: FastifyInstance, path: string): Promise<void> {
  const url = /^[a-z]+:/.test(path) ? path : pathToFileURL(resolve(path)).href
  const mod = await import(url) as { default?: unknown }
  if (typeof mod.default !== 'function') throw new InvalidOptionError(`${path}: the default export must be a function (ipc, app) => void`)
  await (mod.default as MethodsModule)(app.ipc, app)
}

export function signToken (secret: string, claims: Record<string, unknown>, ttlSeconds: number): string {
  return createSigner({ key: secret, algorithm: 'HS256', expiresIn: ttlSeconds * 1000 })(claims)
}
