// How a worker declares a method (mirroring the gateway's `ipc.method`) and what its handler gets.
import { Compile } from 'typebox/compile'
import { type Access, type Caller, type MethodSpec, validators } from '../protocol/frames.js'
import type { WorkerLogger } from './log.js'
import type { Publisher } from './publisher.js'

export interface WorkerMethodOptions {
  /** TypeBox (JSON) schema of the params object; the gateway and the worker both check it */
  params?: object
  /** schema of the result: published for clients and codegen, checked outside production */
  result?: object
  description?: string
  /** the call's deadline at the gateway (its default when absent) */
  timeoutMs?: number
  /** who may call: `user` (default), `public` (anonymous too) or `service` (API keys) */
  access?: Access
  /** when set, only callers with one of these roles */
  roles?: string[]
}

export interface WorkerContext {
  /** who is calling, as the gateway saw them */
  caller: Caller
  /** the request id (unique across gateway nodes) */
  requestId: string
  /** epoch ms after which nobody waits for the answer */
  deadline: number
  /** sends an `rpc.progress` frame to the caller */
  progress (data: unknown): void
  /** publishes events to users, rooms, connections or everyone */
  publish: Publisher
  /** aborted at the deadline, or when stop() gives up waiting */
  signal: AbortSignal
  log: WorkerLogger
}

export type WorkerHandler<P = any, R = unknown> = (params: P, ctx: WorkerContext) => R | Promise<R>

export interface Validator { Check (value: unknown): boolean, Errors (value: unknown): Iterable<{ instancePath: string, message: string }> }

export interface WorkerMethod {
  name: string
  spec: MethodSpec
  params: Validator | null
  result: Validator | null
  handler: WorkerHandler
}

// The same rule as the gateway's registry: letters, digits, _ and dots.
const NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/
export const SERVICE = /^[A-Za-z_][A-Za-z0-9_]*$/

export function defineMethod (service: string, name: string, options: WorkerMethodOptions, handler: WorkerHandler): WorkerMethod {
  if (!NAME.test(name)) throw new Error(`fastify-ipc worker: invalid method name "${name}" (letters, digits, _ and dots)`)
  if (name.startsWith('rpc.')) throw new Error(`fastify-ipc worker: method "${name}": the rpc. prefix is reserved`)
  const inService = service === 'default' ? !name.includes('.') : name.startsWith(`${service}.`)
  if (!inService) throw new Error(`fastify-ipc worker: method "${name}" is not in service "${service}" (${service === 'default' ? 'a name without dots' : `${service}.<name>`})`)
  if (typeof handler !== 'function') throw new Error(`fastify-ipc worker: method "${name}" needs a handler function`)
  const spec: MethodSpec = {
    params: options.params,
    result: options.result,
    description: options.description,
    timeoutMs: options.timeoutMs,
    access: options.access ?? 'user',
    roles: options.roles
  }
  if (!validators.methodSpec.Check(spec)) throw new Error(`fastify-ipc worker: method "${name}": invalid options (timeoutMs a positive integer, access public|user|service, roles strings)`)
  return {
    name,
    spec,
    params: options.params === undefined ? null : Compile(options.params as never) as unknown as Validator,
    result: options.result === undefined ? null : Compile(options.result as never) as unknown as Validator,
    handler
  }
}
