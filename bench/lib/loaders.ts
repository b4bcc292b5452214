// The parent's side of the load-generating processes: start them, command them all at once, merge results.
import type { ConnectResult, ListenResult, LoadCommand, LoadMessage, LoadReply, RpcResult } from './load-protocol.js'
import { type Proc, forkTs } from './procs.js'
import { Histogram } from './stats.js'

const LOAD = new URL('../load.ts', import.meta.url).pathname

export class Loader {
  private waiting: Array<(r: LoadReply) => void> = []
  onDone: ((seq: number) => void) | null = null
  readonly ready: Promise<void>

  constructor (readonly proc: Proc) {
    let ready!: () => void
    this.ready = new Promise(resolve => { ready = resolve })
    proc.child.on('message', (m: LoadMessage) => {
      if (m.type === 'ready') ready()
      else if (m.type === 'done') this.onDone?.(m.seq)
      else this.waiting.shift()?.(m)
    })
    proc.child.once('exit', code => {
      const err = { type: 'closed' } as const
      if (code !== 0 && code !== null) process.stderr.write(`bench: ${proc.name} exited with ${code}: ${proc.output()}\n`)
      for (const w of this.waiting.splice(0)) w(err)
    })
  }

  async request<R extends LoadReply> (cmd: LoadCommand): Promise<R> {
    return await new Promise(resolve => {
      this.waiting.push(resolve as (r: LoadReply) => void)
      this.proc.child.send(cmd)
    })
  }
}

/** A group of load processes commanded together. */
export class LoadGroup {
  constructor (readonly loaders: Loader[]) {}

  static async start (n: number, name: string): Promise<LoadGroup> {
    const group = new LoadGroup(Array.from({ length: n }, (_, i) => new Loader(forkTs(`${name}-${i}`, LOAD))))
    await Promise.all(group.loaders.map(async l => await Promise.race([l.ready, new Promise((_resolve, reject) => l.proc.child.once('exit', () => reject(new Error(`${l.proc.name} exited: ${l.proc.output()}`))))])))
    return group
  }

  /** Opens `total` connections spread evenly over the processes (url per process may differ). */
  async connect (urls: string | string[], total: number, opts: { auth: 'none' | 'header' | 'message', secret: string, concurrency?: number, user?: string }): Promise<{ open: number, failed: number, ms: number, firstError?: string }> {
    const n = this.loaders.length
    const started = performance.now()
    const results = await Promise.all(this.loaders.map(async (l, i) => await l.request<ConnectResult>({
      cmd: 'connect',
      url: Array.isArray(urls) ? urls[i % urls.length] : urls,
      count: Math.floor(total / n) + (i < total % n ? 1 : 0),
      auth: opts.auth,
      secret: opts.secret,
      userPrefix: `u${i}-`,
      user: opts.user,
      concurrency: opts.concurrency ?? 64
    })))
    return {
      open: results.reduce((s, r) => s + (r.open ?? 0), 0),
      failed: results.reduce((s, r) => s + (r.failed ?? 0), 0),
      ms: performance.now() - started,
      firstError: results.find(r => r.firstError !== undefined)?.firstError
    }
  }

  async rpc (cmd: Omit<Extract<LoadCommand, { cmd: 'rpc' }>, 'cmd'>): Promise<{ rate: number, calls: number, errors: number, firstError?: string, hist: Histogram }> {
    const n = this.loaders.length
    const results = await Promise.all(this.loaders.map(async l => await l.request<RpcResult>({ cmd: 'rpc', ...cmd, rate: cmd.rate === undefined ? undefined : cmd.rate / n })))
    const calls = results.reduce((s, r) => s + (r.calls ?? 0), 0)
    return {
      calls,
      rate: calls / (cmd.durationMs / 1000),
      errors: results.reduce((s, r) => s + (r.errors ?? 0), 0),
      firstError: results.find(r => r.firstError !== undefined)?.firstError,
      hist: Histogram.merge(results.map(r => r.hist ?? []))
    }
  }

  async listen (fromSeq: number): Promise<void> {
    await Promise.all(this.loaders.map(async l => await l.request({ cmd: 'listen', record: true, fromSeq })))
  }

  async stopListening (): Promise<{ received: number, hist: Histogram }> {
    const results = await Promise.all(this.loaders.map(async l => await l.request<ListenResult>({ cmd: 'listen', record: false, fromSeq: 0 })))
    return { received: results.reduce((s, r) => s + (r.received ?? 0), 0), hist: Histogram.merge(results.map(r => r.hist ?? [])) }
  }

  async close (): Promise<void> {
    await Promise.all(this.loaders.map(async l => await l.request({ cmd: 'close' })))
  }

  async stop (): Promise<void> {
    await Promise.all(this.loaders.map(async l => await l.proc.stop()))
  }
}

