// The entries of a one-stream XREAD/XREADGROUP reply, in every shape ioredis may give it back:
// shared by the gateway's event stream and the worker's request stream.

/** `[id, [field, value, …] | null]`: a stream entry (null when trimmed away). */
export type Entry = [string, string[] | null]

/**
 * RESP2 gives `[[key, entries]]`; RESP3 with ioredis' legacy mapping flattens the map to
 * `[key, entries]`; the `resp3` mapping gives `{key: entries}`.
 */
export function readEntries<E = Entry> (reply: unknown): E[] {
  if (reply === null || reply === undefined) return []
  if (!Array.isArray(reply)) return Object.values(reply as Record<string, E[]>)[0] ?? []
  if (reply.length === 0) return []
  return (Array.isArray(reply[0]) ? reply[0][1] : reply[1]) as E[]
}
