// The frames a connection sends in one event-loop turn (the answers to every request of one TCP
// read) leave in one write rather than a syscall each. This is the only module that reaches into
// `ws`: it corks the TCP socket under a WebSocket (`_socket`, not public API), and one setImmediate
// uncorks every socket corked in the turn. test/gateway/socket-writes.test.ts checks that the `ws`
// version in package.json still works this way.
import type { Socket } from 'node:net'
import type { WebSocket } from 'ws'

const held: Socket[] = []

/** Holds back what `ws` writes on this socket until the end of the current event-loop turn. */
export function holdForTurn (ws: WebSocket): void {
  const raw = (ws as unknown as { _socket?: Socket | null })._socket
  if (raw == null || raw.writableCorked > 0) return
  raw.cork()
  if (held.push(raw) === 1) setImmediate(release)
}

function release (): void {
  for (const raw of held) raw.uncork()
  held.length = 0
}
