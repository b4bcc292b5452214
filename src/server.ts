// Standalone: configuration from the environment -> Fastify -> listen, with graceful shutdown.
import { randomBytes } from 'node:crypto'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import closeWithGrace from 'close-with-grace'
import { createSigner } from 'fast-jwt'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyIpc from './app.js'
import { type ServerConfig } from './env.js'
import type { IpcApi } from './gateway/api.js'
import { InvalidOptionError } from './errors.js'

/** A module named by IPC_METHODS / --methods: its default export registers methods. */
export type MethodsModule = (ipc: IpcApi, app: FastifyInstance) => void | Promise<void>

export async function startServer (config: ServerConfig): Promise<FastifyInstance> {
  const options = { ...config.options }
  let devToken: string | undefined
  if (options.jwt?.secret === undefined && options.jwt?.publicKey === undefined) {
    if (process.env.NODE_ENV === 'production') {
      throw new InvalidOptionError('IPC_JWT_SECRET or IPC_JWT_PUBLIC_KEY is required when NODE_ENV=production')
    }
    const secret = randomBytes(32).toString('base64url')
    options.jwt = { ...options.jwt, secret }
    devToken = signToken(secret, { sub: 'dev', rooms: ['*'] }, 3600)
  }

  const app = Fastify({ logger: { level: config.logLevel }, trustProxy: config.trustProxy })
  await app.register(fastifyIpc, options)
  if (config.methods !== undefined) await loadMethods(app, config.methods)

  const shutdownMs = options.shutdownTimeoutMs ?? 10000
  closeWithGrace({ delay: shutdownMs + 5000 }, async ({ signal, err }) => {
    if (err !== undefined) app.log.error({ err }, 'shutting down after an error')
    else app.log.info({ signal }, 'shutting down')
    await app.close()
  })

  await app.listen({ port: config.port, host: config.host })
  if (devToken !== undefined) {
    app.log.warn('No IPC_JWT_SECRET set: using a random development secret. Never do this in production.')
    process.stdout.write(`\nDevelopment token (user "dev", any room, valid 1 hour):\n${devToken}\n\n`)
  }
  return app
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
