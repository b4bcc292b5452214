// How a method is declared, the same for in-process methods and workers' methods.
import { InvalidMethodError } from '../errors.js'
import { type Access, type MethodSpec, validators } from './frames.js'

export interface MethodOptions {
  /** TypeBox (JSON Schema) of the params object */
  params?: object
  /** TypeBox (JSON Schema) of the result, checked outside production */
  result?: object
  description?: string
  /** deadline in ms (-32008 after) */
  timeoutMs?: number
  /** who may call it: `public` (anonymous too, when enabled), `user` (default) or `service` */
  access?: Access
  /** when set, only identities with one of these roles see and call it */
  roles?: string[]
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/

/** Checks a method's name and options and returns its catalog entry; throws one clear error. */
export function methodSpec (name: string, options: MethodOptions, who = 'fastify-ipc'): MethodSpec {
  if (!NAME.test(name)) throw new InvalidMethodError(`${who}: invalid method name "${name}" (letters, digits, _ and dots)`)
  if (name.startsWith('rpc.')) throw new InvalidMethodError(`${who}: method "${name}": the rpc. prefix is reserved`)
  const spec: MethodSpec = {
    params: options.params,
    result: options.result,
    description: options.description,
    timeoutMs: options.timeoutMs,
    access: options.access ?? 'user',
    roles: options.roles
  }
  if (!validators.methodSpec.Check(spec)) {
    throw new InvalidMethodError(`${who}: method "${name}": invalid options (timeoutMs a positive integer, access public|user|service, roles strings)`)
  }
  return spec
}

/** Whether a handler answered with a promise (or any thenable) rather than a value. */
export const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function'
