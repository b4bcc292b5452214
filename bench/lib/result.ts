// One row of the results table.
import type { Histogram } from './stats.js'

export interface Row {
  scenario: string
  /** calls/s, deliveries/s or connections/s */
  throughput: number
  unit: string
  p50?: number
  p95?: number
  p99?: number
  /** gateway (or baseline server) CPU, 100 = one core; summed over nodes */
  cpu?: number
  /** the machine's steal time over the measured window, % of all CPU time */
  steal?: number
  /** gateway RSS in MiB at the end of the scenario; summed over nodes */
  rssMiB?: number
  note?: string
  [extra: string]: unknown
}

export const latency = (h: Histogram): Pick<Row, 'p50' | 'p95' | 'p99'> => h.summary()
