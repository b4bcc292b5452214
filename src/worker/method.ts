// How a worker declares a method (mirroring the gateway's `ipc.method`) and what its handler gets.
import { Compile } from 'typebox/compile'
import type { Interceptor } from '../interceptors.js'
import type { Caller, MethodSpec, Validator } from '../protocol/frames.js'
import { type MethodOptions, methodSpec } from '../protocol/methods.js'
import type { WorkerLogger } from './log.js'
import type { Publisher } from './publisher.js'
import { InvalidMethodError } from '../errors.js'

/** The same options as the gateway's `ipc.method`. */
export type WorkerMethodOptions = MethodOptions

export interface WorkerContext {
  /** who is calling, as the gateway saw them (parsed when first read; a request whose caller is not JSON fails there with -32600) */
  caller: Caller
  /** the request id (unique across gateway nodes) */
  requestId: string
  /** epoch ms after which nobody waits for the answer */
  deadline: number
  /** the call's idempotencyKey, when the client sent one: the gateway keeps this answer for its re-sends (docs/protocol.md §3) */
  idempotencyKey: string | undefined
  /** sends an `rpc.progress` frame to the caller */
  progress (data: unknown): void
  /** publishes events to users, rooms, connections or everyone */
  publish: Publisher
  /** aborted at the deadline, or when stop() gives up waiting */
  signal: AbortSignal
  log: WorkerLogger
}

export type WorkerHandler<P = any, R = unknown> = (params: P, ctx: WorkerContext) => R | Promise<R>

/** What a worker's interceptor (`worker.use`) sees of a call. */
export interface WorkerCall {
  readonly method: string
  /** the params, validated against the method's schema (read them, do not change them) */
  readonly params: unknown
  /** the handler's context: caller, requestId, deadline, signal... */
  readonly ctx: WorkerContext
}

export type WorkerInterceptor = Interceptor<WorkerCall>

export interface WorkerMethod {
  name: string
  spec: MethodSpec
  params: Validator | null
  result: Validator | null
  handler: WorkerHandler
}

export const SERVICE = /^[A-Za-z_][A-Za-z0-9_]*$/

export function defineMethod (service: string, name: string, options: WorkerMethodOptions, handler: WorkerHandler): WorkerMethod {
  const spec = methodSpec(name, options, 'fastify-ipc worker')
  const inService = service === 'default' ? !name.includes('.') : name.startsWith(`${service}.`)
  if (!inService) throw new InvalidMethodError(`fastify-ipc worker: method "${name}" is not in service "${service}" (${service === 'default' ? 'a name without dots' : `${service}.<name>`})`)
  if (typeof handler !== 'function') throw new InvalidMethodError(`fastify-ipc worker: method "${name}" needs a handler function`)
  return {
    name,
    spec,
    params: options.params === undefined ? null : Compile(options.params as never) as unknown as Validator,
    result: options.result === undefined ? null : Compile(options.result as never) as unknown as Validator,
    handler
  }
}
