// The WebSocket the client speaks through: the platform's own where there is one (browsers, Node 22+),
// else the `ws` package, imported only then so a browser bundle never needs it (bundlers honour
// ws' "browser" field and put in its small stub, which this code never reaches).

// Handlers are compared bivariantly, so both the DOM WebSocket and ws' class fit these shapes.
type Listener<E> = { bivarianceHack (event: E): void }['bivarianceHack']

/** The part of the WHATWG WebSocket the client uses; the DOM's and `ws`' sockets both have it. */
export interface WebSocketLike {
  readonly readyState: number
  send (data: string): void
  close (code?: number, reason?: string): void
  onopen: Listener<unknown> | null
  onmessage: Listener<{ data: unknown }> | null
  onclose: Listener<{ code: number, reason: string }> | null
  onerror: Listener<unknown> | null
}

export type WebSocketConstructor = new (url: string) => WebSocketLike

/** readyState of a socket that has finished closing (the same in every implementation) */
export const CLOSED = 3

// How long closeSocket() waits for the peer's close frame before it ends the socket itself.
const CLOSE_GRACE_MS = 1000

let nodeWebSocket: Promise<WebSocketConstructor> | undefined

export async function resolveWebSocket (given?: WebSocketConstructor): Promise<WebSocketConstructor> {
  if (given !== undefined) return given
  const native = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
  if (native !== undefined) return native
  nodeWebSocket ??= import('ws').then(m => m.default as unknown as WebSocketConstructor)
  return await nodeWebSocket
}

// Closes a socket we no longer listen to; resolves once it is closed, ending it (ws) if the peer is silent.
export async function closeSocket (ws: WebSocketLike): Promise<void> {
  ws.onopen = ws.onmessage = null
  if (ws.readyState === CLOSED) return
  await new Promise<void>(resolve => {
    const timer = setTimeout(() => {
      (ws as { terminate?: () => void }).terminate?.()
      resolve()
    }, CLOSE_GRACE_MS)
    ws.onclose = () => {
      clearTimeout(timer)
      resolve()
    }
    ws.close(1000)
  })
}
