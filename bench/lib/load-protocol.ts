// Messages between the bench (parent) and a load-generating child process, over the fork IPC channel.
import type { HistogramData } from './stats.js'

export type LoadCommand =
  | {
    cmd: 'connect'
    url: string
    count: number
    /** none: bare socket; header: Bearer token on upgrade; message: rpc.auth as the first frame */
    auth: 'none' | 'header' | 'message'
    secret: string
    userPrefix: string
    /** every connection authenticates as this one user (a user target then reaches them all) */
    user?: string
    concurrency: number
  }
  /** closed loop (`inFlight` calls outstanding per connection) or, with `rate`, that many calls/s in all */
  | { cmd: 'rpc', method: string, inFlight: number, warmupMs: number, durationMs: number, rate?: number }
  /** record: start counting broadcast deliveries of seq >= fromSeq; !record: stop and report */
  | { cmd: 'listen', record: boolean, fromSeq: number }
  | { cmd: 'close' }

export interface ConnectResult { type: 'connected', open: number, failed: number, ms: number, firstError?: string }
export interface RpcResult { type: 'rpc', calls: number, errors: number, firstError?: string, seconds: number, hist: HistogramData }
export interface ListenResult { type: 'listening', received: number, hist: HistogramData }
export interface ClosedResult { type: 'closed' }
/** sent unprompted when every connection of the process has received broadcast `seq` */
export interface EventDone { type: 'done', seq: number }

export type LoadReply = ConnectResult | RpcResult | ListenResult | ClosedResult
/** sent once the process is up and listening for commands */
export interface Ready { type: 'ready' }

export type LoadMessage = LoadReply | EventDone | Ready
