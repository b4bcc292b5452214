// Every method this gateway can route: in-process ones and those remote workers publish, with
// their compiled validators, plus the events it declares. Also builds the OpenRPC document.
import { Compile } from 'typebox/compile'
import type { Identity } from '../config.js'
import type { Access, Caller, MethodSpec, Validator } from '../protocol/frames.js'
import { type MethodOptions, methodSpec } from '../protocol/methods.js'
import { paramNames } from '../protocol/params.js'
import type { OutgoingEvent, PublishResult } from '../broker/types.js'
import type { FastifyBaseLogger } from 'fastify'
import { DuplicateMethodError, InvalidMethodError } from '../errors.js'

export interface MethodContext {
  /** who is calling; null for an anonymous call of a public method */
  identity: Identity | null
  caller: Caller
  /** sends an `rpc.progress` frame to the caller */
  progress (data: unknown): void
  /** publishes an event, like `app.ipc.publish` */
  publish (event: OutgoingEvent): Promise<PublishResult>
  log: FastifyBaseLogger
  /** the request's idempotencyKey, when it has one: this run's answer is kept for its re-sends (docs/protocol.md §3) */
  idempotencyKey?: string
}

export type Handler<P = any, R = unknown> = (params: P, ctx: MethodContext) => R | Promise<R>

export interface Method {
  name: string
  spec: MethodSpec
  access: Access
  params: Validator | null
  /** the params' by-position order */
  positions: readonly string[]
  result: Validator | null
  /** present for in-process methods */
  handler?: Handler
}

export interface EventSpec { description?: string, data?: object }

export class Registry {
  private readonly local = new Map<string, Method>()
  private remote = new Map<string, Method>()
  private readonly events = new Map<string, EventSpec>()
  private readonly compiled = new Map<string, Validator>()

  /** `hidden`: methods no client may see or call (the worker methods serving hooks) */
  constructor (private readonly remoteSpecs: () => ReadonlyMap<string, MethodSpec>, private readonly hidden: ReadonlySet<string> = new Set()) {}

  define (name: string, options: MethodOptions, handler: Handler): void {
    if (this.local.has(name)) throw new DuplicateMethodError(`fastify-ipc: method "${name}" is already defined`)
    if (typeof handler !== 'function') throw new InvalidMethodError(`fastify-ipc: method "${name}" needs a handler function`)
    const spec = methodSpec(name, options)
    this.local.set(name, { ...this.build(name, spec), handler })
  }

  event (name: string, spec: EventSpec = {}): void {
    this.events.set(name, spec)
  }

  /** Rebuilds the remote part from the broker's catalog (called when it changes). */
  reload (): void {
    const next = new Map<string, Method>()
    for (const [name, spec] of this.remoteSpecs()) {
      if (!this.local.has(name)) next.set(name, this.build(name, spec))
    }
    this.remote = next
  }

  get (name: string): Method | undefined {
    return this.local.get(name) ?? this.remote.get(name)
  }

  /** Whether an identity may see and call a method (null = anonymous). */
  visible (method: Method, identity: Identity | null, allowAnonymous: boolean): boolean {
    if (this.hidden.has(method.name)) return false
    if (identity === null) return allowAnonymous && method.access === 'public'
    if (method.access === 'service' && !identity.roles.includes('service')) return false
    const roles = method.spec.roles
    return roles === undefined || roles.length === 0 || roles.some(r => identity.roles.includes(r))
  }

  /** The OpenRPC 1.x document of the methods an identity may call (all of them when `identity` is undefined). */
  openrpc (version: string, identity?: Identity | null, allowAnonymous = false): Record<string, unknown> {
    const methods = []
    for (const m of [...this.local.values(), ...this.remote.values()]) {
      if (this.hidden.has(m.name) || (identity !== undefined && !this.visible(m, identity, allowAnonymous))) continue
      methods.push(describe(m))
    }
    methods.sort((a, b) => a.name.localeCompare(b.name))
    return {
      openrpc: '1.3.2',
      info: { title: 'fastify-ipc', version },
      methods,
      'x-events': [...this.events].map(([name, e]) => ({
        name,
        ...(e.description === undefined ? {} : { description: e.description }),
        schema: e.data ?? {}
      }))
    }
  }

  private build (name: string, spec: MethodSpec): Method {
    return {
      name,
      spec,
      access: spec.access ?? 'user',
      params: spec.params === undefined ? null : this.compile(spec.params),
      positions: paramNames(spec.params),
      result: spec.result === undefined ? null : this.compile(spec.result)
    }
  }

  // Workers republish the same schemas often: compile each distinct one once.
  private compile (schema: unknown): Validator {
    const key = JSON.stringify(schema)
    let v = this.compiled.get(key)
    if (v === undefined) {
      v = Compile(schema as never) as unknown as Validator
      this.compiled.set(key, v)
    }
    return v
  }
}

/** One OpenRPC method object: params from the properties of the params schema, by name or in their order. */
function describe (m: Method): { name: string } & Record<string, unknown> {
  const schema = (m.spec.params ?? { type: 'object' }) as { properties?: Record<string, unknown>, required?: string[] }
  const required = new Set(schema.required ?? [])
  const params = Object.entries(schema.properties ?? {}).map(([name, s]) => ({ name, required: required.has(name), schema: s }))
  return {
    name: m.name,
    ...(m.spec.description === undefined ? {} : { description: m.spec.description }),
    paramStructure: 'either',
    params,
    result: { name: 'result', schema: m.spec.result ?? {} },
    'x-params-schema': schema,
    'x-access': m.access,
    ...(m.spec.roles === undefined ? {} : { 'x-roles': m.spec.roles }),
    ...(m.spec.timeoutMs === undefined ? {} : { 'x-timeout-ms': m.spec.timeoutMs })
  }
}
