// The request log stream `<prefix>requests` (docs/protocol.md §9): one entry per logged call, the
// stream capped at `requestLogStreamLength` entries. Appended without waiting; while Redis is
// unreachable entries go to the logger only.
import type { RequestLogEntry, RequestLogSink } from './types.js'
import type { RedisClient } from './redis-link.js'

export class RedisRequestLog implements RequestLogSink {
  private readonly maxLen: string

  constructor (
    private readonly redis: RedisClient,
    private readonly key: string,
    maxLen: number,
    private readonly nodeId: string,
    private readonly isUp: () => boolean
  ) {
    this.maxLen = String(maxLen)
  }

  append ({ method, userId, durationMs, code, traceId }: RequestLogEntry): void {
    if (!this.isUp()) return
    const fields = ['node', this.nodeId, 'method', method, 'user', userId, 'ms', String(durationMs), 'outcome', code === null ? 'ok' : 'error']
    if (code !== null) fields.push('code', String(code))
    if (traceId !== undefined) fields.push('trace', traceId)
    // an exact MAXLEN: the stream holds at most that many entries, and the log is sampled, so trimming is rare work
    this.redis.xadd(this.key, 'MAXLEN', this.maxLen, '*', ...fields).catch(() => undefined)
  }
}
