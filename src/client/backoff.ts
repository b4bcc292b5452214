// Reconnect delays: exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff
// And Jitter"), so clients dropped together by one restart do not come back together.

export interface BackoffOptions {
  /** ceiling of the first delay (default 500) */
  initialDelayMs?: number
  /** ceiling of any delay (default 30000) */
  maxDelayMs?: number
  /** failed attempts in a row before the client gives up and closes (default: never gives up) */
  maxAttempts?: number
}

export const backoffDefaults = { initialDelayMs: 500, maxDelayMs: 30000, maxAttempts: Infinity }

/** A random delay in [0, min(max, initial * 2^attempt)); `attempt` counts from 0. */
export function backoffDelay (attempt: number, { initialDelayMs, maxDelayMs }: Required<Pick<BackoffOptions, 'initialDelayMs' | 'maxDelayMs'>>, random = Math.random): number {
  // 2 ** attempt overflows to Infinity long after the cap applies, so Math.min keeps it finite.
  return Math.floor(random() * Math.min(maxDelayMs, initialDelayMs * 2 ** attempt))
}
