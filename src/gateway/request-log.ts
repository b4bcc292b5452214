// The request log (docs/protocol.md §12): a sample of the calls answered with a result
// (`requestLogSampleRate`) and every call answered with an error, to the logger and, with
// `requestLogStream`, to the broker's bounded request log stream (§9).
import type { FastifyBaseLogger } from 'fastify'
import type { RequestLogEntry, RequestLogSink } from '../broker/types.js'

export class RequestLog {
  constructor (
    private readonly rate: number,
    private readonly log: FastifyBaseLogger,
    private readonly sink: RequestLogSink | null
  ) {}

  /** Whether a call that ended so is logged: a failed one always, a successful one at the sample rate. */
  wants (failed: boolean): boolean {
    return failed || (this.rate > 0 && Math.random() < this.rate)
  }

  record (entry: RequestLogEntry): void {
    this.log.info({ rpc: entry }, 'rpc call')
    this.sink?.append(entry)
  }
}
