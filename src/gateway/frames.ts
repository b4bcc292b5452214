// Encoding of outbound JSON-RPC frames: built as strings so a result is stringified exactly once.
import type { ErrorObject } from '../protocol/errors.js'
import type { RequestId } from '../protocol/frames.js'

export const resultFrame = (id: RequestId, result: unknown): string =>
  '{"jsonrpc":"2.0","id":' + JSON.stringify(id) + ',"result":' + (JSON.stringify(result) ?? 'null') + '}'

export const errorFrame = (id: RequestId | null, error: ErrorObject): string =>
  '{"jsonrpc":"2.0","id":' + JSON.stringify(id) + ',"error":' + JSON.stringify(error) + '}'

export const progressFrame = (id: RequestId, data: unknown): string =>
  '{"jsonrpc":"2.0","method":"rpc.progress","params":{"id":' + JSON.stringify(id) + ',"data":' + (JSON.stringify(data) ?? 'null') + '}}'

/** The id of something that failed validation, if it has a usable one. */
export function idOf (msg: unknown): RequestId | null {
  if (msg === null || typeof msg !== 'object') return null
  const id = (msg as { id?: unknown }).id
  return typeof id === 'string' || typeof id === 'number' ? id : null
}
