// Latency histogram with ~1% relative precision: cheap to record in a load generator and mergeable
// by addition, so several processes' samples combine into one set of percentiles.
const GROWTH = 1.01
const LOG_GROWTH = Math.log(GROWTH)
const BUCKETS = 2200 // 1.01^2200 µs ≈ 3 hours: no latency falls off the end

/** sparse form for IPC: [bucket, count] pairs */
export type HistogramData = Array<[number, number]>

export class Histogram {
  private readonly counts = new Float64Array(BUCKETS)
  count = 0

  record (ms: number): void {
    const us = ms * 1000
    const i = us <= 1 ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(us) / LOG_GROWTH))
    this.counts[i]++
    this.count++
  }

  toJSON (): HistogramData {
    const out: HistogramData = []
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i] > 0) out.push([i, this.counts[i]])
    return out
  }

  add (data: HistogramData): void {
    for (const [i, n] of data) {
      this.counts[i] += n
      this.count += n
    }
  }

  /** the latency (ms) below which a fraction `p` of the samples fall; NaN when empty */
  percentile (p: number): number {
    if (this.count === 0) return NaN
    const rank = Math.max(1, Math.ceil(p * this.count))
    let seen = 0
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]
      if (seen >= rank) return GROWTH ** i / 1000
    }
    return NaN
  }

  summary (): { p50: number, p95: number, p99: number } {
    return { p50: this.percentile(0.5), p95: this.percentile(0.95), p99: this.percentile(0.99) }
  }

  static merge (parts: HistogramData[]): Histogram {
    const h = new Histogram()
    for (const p of parts) h.add(p)
    return h
  }
}

/** wall-clock milliseconds with sub-millisecond precision, comparable between processes on one machine */
export const nowMs = (): number => performance.timeOrigin + performance.now()
