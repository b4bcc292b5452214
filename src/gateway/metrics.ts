// The gateway's Prometheus metrics, on a Registry of its own so several apps can live in one process.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { STATS_BUCKETS } from '../protocol/admin.js'

export class Metrics {
  readonly registry = new Registry()
  readonly connections = new Gauge({ name: 'ipc_connections', help: 'open WebSocket connections by state', labelNames: ['state'] as const, registers: [this.registry] })
  readonly accepted = new Counter({ name: 'ipc_connections_accepted_total', help: 'WebSocket connections accepted', registers: [this.registry] })
  readonly rejected = new Counter({ name: 'ipc_connections_rejected_total', help: 'WebSocket connections refused or closed by policy, by reason', labelNames: ['reason'] as const, registers: [this.registry] })
  readonly messagesIn = new Counter({ name: 'ipc_messages_in_total', help: 'WebSocket messages received', registers: [this.registry] })
  readonly messagesOut = new Counter({ name: 'ipc_messages_out_total', help: 'WebSocket messages sent', registers: [this.registry] })
  readonly rpcDuration = new Histogram({
    name: 'ipc_rpc_duration_seconds',
    help: 'RPC duration by method and outcome',
    labelNames: ['method', 'outcome'] as const,
    buckets: STATS_BUCKETS,
    registers: [this.registry]
  })

  readonly rpcErrors = new Counter({ name: 'ipc_rpc_errors_total', help: 'RPC errors by code', labelNames: ['code'] as const, registers: [this.registry] })
  readonly eventsDelivered = new Counter({ name: 'ipc_events_delivered_total', help: 'events written to sockets', registers: [this.registry] })
  readonly recoveries = new Counter({ name: 'ipc_recoveries_total', help: 'rpc.join and rpc.auth asked to recover, by outcome', labelNames: ['recovered'], registers: [this.registry] })
  readonly slowConsumers = new Counter({ name: 'ipc_slow_consumer_closes_total', help: 'connections closed with 4008 because they did not read', registers: [this.registry] })
  readonly eventLag = new Histogram({
    name: 'ipc_event_delivery_lag_seconds',
    help: 'time from an event\'s publication to its delivery to this node\'s sockets (clocks of publisher and node)',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry]
  })

  readonly brokerUp = new Gauge({ name: 'ipc_broker_up', help: '1 while the broker (Redis) is reachable', registers: [this.registry] })

  constructor () {
    collectDefaultMetrics({ register: this.registry, prefix: 'ipc_' })
    this.connections.set({ state: 'pending' }, 0)
    this.connections.set({ state: 'authenticated' }, 0)
    this.brokerUp.set(1)
  }
}
