// Answers on the caller's node list `ipc:reply:<node>`: RPUSH then PEXPIRE (PROTOCOL.md section 9),
// and the mapping of whatever a handler threw to a JSON-RPC error object.
import type { Redis } from 'ioredis'
import { REPLY_TTL_MS } from '../broker/keys.js'
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

/** Pushes one reply; the list expires so replies for a node that died do not pile up. */
export async function pushReply (redis: Redis, key: string, text: string): Promise<void> {
  const results = await redis.multi().rpush(key, text).pexpire(key, REPLY_TTL_MS).exec()
  const failed = results?.find(([err]) => err !== null)
  if (results === null || failed !== undefined) throw failed?.[0] ?? new Error('reply transaction aborted')
}
