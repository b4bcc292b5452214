// The JSON text of a reply (pushed on the caller's node list by the outbox, docs/protocol.md §9),
// and the mapping of whatever a handler threw to a JSON-RPC error object.
import { ErrorCode, type ErrorObject, RpcError } from '../protocol/errors.js'

export type ReplyBody = { result: unknown } | { error: ErrorObject } | { progress: unknown }

export const internalError = (data?: unknown): ErrorObject =>
  data === undefined ? { code: ErrorCode.INTERNAL_ERROR, message: 'Internal error' } : { code: ErrorCode.INTERNAL_ERROR, message: 'Internal error', data }

/** An RpcError (see `RpcError.of`) passes through; for anything else null, and the caller answers -32603. */
export function errorObject (err: unknown): ErrorObject | null {
  return RpcError.of(err)?.toJSON() ?? null
}

/**
 * The reply's JSON text. An undefined result or progress is sent as null (JSON would drop the member and
 * change the reply's kind); a value JSON cannot express (BigInt, cycles) becomes -32603.
 */
export function encodeReply (id: string, body: ReplyBody): string {
  try {
    if ('error' in body) return JSON.stringify({ id, error: body.error })
    return JSON.stringify('result' in body ? { id, result: body.result ?? null } : { id, progress: body.progress ?? null })
  } catch {
    return JSON.stringify({ id, error: internalError() })
  }
}
