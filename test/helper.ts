// Test helpers: a real gateway on a real port, real WebSocket clients, tokens signed like production ones.
import { once } from 'node:events'
import { createSigner } from 'fast-jwt'
import Fastify, { type FastifyInstance } from 'fastify'
import WebSocket from 'ws'
import fastifyIpc, { type FastifyIpcOptions } from '../src/index.js'
import { kGateway } from '../plugins/gateway.js'
import type { Gateway } from '../src/gateway/gateway.js'

export const SECRET = 'test-secret-0123456789abcdef0123456789'
export const API_KEY = 'backend-key-0123456789abcdef'

/** A JWT signed with SECRET (HS256), valid `ttl` seconds (default one hour). */
export function token (claims: Record<string, unknown>, { ttl = 3600, key = SECRET, algorithm = 'HS256' }: { ttl?: number, key?: string, algorithm?: string } = {}): string {
  return createSigner({ key, algorithm: algorithm as 'HS256', expiresIn: ttl * 1000 })(claims)
}

export interface TestGateway {
  app: FastifyInstance
  url: string
  http: string
  close (): Promise<void>
}

/** Starts the plugin on 127.0.0.1 with a random port; `setup` registers methods before listening. */
export async function startGateway (options: FastifyIpcOptions = {}, setup?: (app: FastifyInstance) => void | Promise<void>): Promise<TestGateway> {
  const app = Fastify({ logger: false })
  await app.register(fastifyIpc, { jwt: { secret: SECRET }, apiKeys: { backend: API_KEY }, ...options })
  if (setup !== undefined) await setup(app)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  return { app, url: `ws://127.0.0.1:${port}/ws`, http: `http://127.0.0.1:${port}`, close: async () => await app.close() }
}

/** The Gateway behind an app's `app.ipc`, for tests that look at its connections or stop its broker. */
export const gatewayOf = (app: FastifyInstance): Gateway => app[kGateway]

export interface Frame {
  jsonrpc: '2.0'
  id?: string | number | null
  method?: string
  params?: any
  result?: any
  error?: { code: number, message: string, data?: any }
}

/** A WebSocket client that records every frame and lets a test wait for the one it expects. */
export class TestClient {
  readonly frames: Frame[] = []
  private waiters: Array<{ match: (f: Frame) => boolean, resolve: (f: Frame) => void }> = []
  private nextId = 1
  readonly closed: Promise<{ code: number, reason: string }>

  constructor (readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const parsed = JSON.parse(data.toString()) as Frame | Frame[]
      for (const f of Array.isArray(parsed) ? parsed : [parsed]) {
        this.frames.push(f)
        const i = this.waiters.findIndex(w => w.match(f))
        if (i >= 0) this.waiters.splice(i, 1)[0].resolve(f)
      }
    })
    this.closed = new Promise(resolve => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })))
  }

  /** Connects; with `token`, authenticates by header (the upgrade fails with 401 on a bad one). */
  static async connect (url: string, { token: bearer, auth }: { token?: string, auth?: string } = {}): Promise<TestClient> {
    const headers: Record<string, string> = bearer === undefined ? {} : { authorization: `Bearer ${bearer}` }
    const ws = new WebSocket(url, { headers })
    const client = new TestClient(ws)
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve)
      ws.once('error', reject)
      // With this listener ws leaves the refused request open; end it, or it holds the server's close.
      ws.once('unexpected-response', (req, res) => { req.destroy(); reject(new Error(`HTTP ${res.statusCode}`)) })
    })
    if (auth !== undefined) {
      const res = await client.call('rpc.auth', { token: auth })
      if (res.error !== undefined) throw new Error(`rpc.auth failed: ${res.error.message}`)
    }
    return client
  }

  send (frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame))
  }

  /** Sends a request and resolves with its response frame (result or error). */
  async call (method: string, params?: unknown, id: string | number = this.nextId++): Promise<Frame> {
    const response = this.next(f => f.id === id && f.method === undefined)
    this.send(params === undefined ? { jsonrpc: '2.0', id, method } : { jsonrpc: '2.0', id, method, params })
    return await response
  }

  /** Resolves with the first frame (already received or not) that matches. */
  async next (match: (f: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    const seen = this.frames.find(match)
    if (seen !== undefined) {
      this.frames.splice(this.frames.indexOf(seen), 1)
      return seen
    }
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter(w => w !== waiter)
        reject(new Error(`no matching frame within ${timeoutMs} ms; received: ${JSON.stringify(this.frames).slice(0, 500)}`))
      }, timeoutMs)
      const waiter = {
        match,
        resolve: (f: Frame) => {
          clearTimeout(timer)
          this.frames.splice(this.frames.indexOf(f), 1)
          resolve(f)
        }
      }
      this.waiters.push(waiter)
    })
  }

  /** The next `rpc.event` frame, optionally of one event name. */
  async event (name?: string, timeoutMs?: number): Promise<Frame> {
    return await this.next(f => f.method === 'rpc.event' && (name === undefined || f.params.event === name), timeoutMs)
  }

  async close (): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return
    this.ws.close()
    await once(this.ws, 'close')
  }
}

export interface Draining {
  gw: TestGateway
  client: TestClient
  /** the answer to the request that holds the drain open */
  slow: Promise<Frame>
  /** lets that request finish */
  release (): void
  /** the gateway's close(), under way */
  closing: Promise<void>
}

/** A gateway caught draining: one request is in flight, close() has begun and waits for it. */
export async function drainingGateway (): Promise<Draining> {
  let release: (() => void) | undefined
  const gw = await startGateway({}, app => {
    app.ipc.method('slow.wait', {}, async () => await new Promise(resolve => { release = () => resolve({ ok: true }) }))
  })
  const client = await TestClient.connect(gw.url, { token: token({ sub: '1' }) })
  const slow = client.call('slow.wait', {})
  while (release === undefined) await new Promise(resolve => setImmediate(resolve))
  const closing = gw.close()
  while (!gatewayOf(gw.app).draining) await new Promise(resolve => setImmediate(resolve))
  return { gw, client, slow, release, closing }
}
