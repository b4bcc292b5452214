// A request as the gateway writes it on `ipc:rpc:<service>` (docs/protocol.md §9), read back.
import { ErrorCode, RpcError } from '../protocol/errors.js'
import type { Caller } from '../protocol/frames.js'

export interface WorkerRequest {
  id: string
  method: string
  /** JSON text; parsed (and validated) only when the method is known */
  params: string
  /** the caller's JSON text; see `callerOf` */
  caller: string
  reply: string
  deadline: number
  /** the call's idempotencyKey, when it has one (docs/protocol.md §9) */
  idem?: string
  /** W3C trace context of the call, when it has one */
  traceparent?: string
}

/** Who to answer, when the entry says it: enough to send an error for a request we cannot run. */
export interface Answerable { id: string, reply: string }

export type Parsed =
  | { ok: true, request: WorkerRequest }
  | { ok: false, reason: string, answer?: Answerable }

const DIGITS = /^[0-9]+$/

// The known fields read into locals: a record keyed by field name, checked by a schema, costs a
// megamorphic keyed store and a key lookup per field of every request.
export function parseRequest (fields: string[]): Parsed {
  let v: string | undefined, id: string | undefined, method: string | undefined, params: string | undefined
  let caller: string | undefined, reply: string | undefined, deadline: string | undefined, idem: string | undefined
  let traceparent: string | undefined
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const value = fields[i + 1]
    switch (fields[i]) {
      case 'v': v = value; break
      case 'id': id = value; break
      case 'method': method = value; break
      case 'params': params = value; break
      case 'caller': caller = value; break
      case 'reply': reply = value; break
      case 'deadline': deadline = value; break
      case 'idem': idem = value; break
      case 'traceparent': traceparent = value; break
    }
  }
  if (v === '1' && id !== undefined && id !== '' && method !== undefined && method !== '' && caller !== undefined &&
    reply !== undefined && reply !== '' && deadline !== undefined && DIGITS.test(deadline)) {
    const request: WorkerRequest = { id, method, params: params ?? '{}', caller, reply, deadline: Number(deadline), traceparent }
    if (idem !== undefined && idem !== '') request.idem = idem
    return { ok: true, request }
  }
  const answer = id !== undefined && reply !== undefined && reply !== '' ? { id, reply } : undefined
  return { ok: false, reason: v !== undefined && v !== '1' ? `unsupported request version ${v}` : 'malformed request', answer }
}

/**
 * The caller, parsed when a handler first asks for it: most handlers never do, and its JSON (with
 * every claim of the token) is the largest parse of a request. Not JSON: -32600.
 */
export function callerOf (request: WorkerRequest): Caller {
  try {
    return JSON.parse(request.caller) as Caller
  } catch {
    throw new RpcError(ErrorCode.INVALID_REQUEST, 'Invalid request: caller is not JSON')
  }
}
