// Room patterns (publicRooms, the JWT `rooms` claim, presenceEventRooms): shared by the gateway and
// the brokers, so it sits below both.

/** `*` matches everything, `prefix:*` every room that starts with `prefix:`, anything else itself. */
export function matchesRoom (patterns: readonly string[], room: string): boolean {
  for (const p of patterns) {
    if (p === room || p === '*') return true
    if (p.endsWith('*') && room.startsWith(p.slice(0, -1))) return true
  }
  return false
}
