// Room patterns (publicRooms, the JWT `rooms` claim, historyRooms, presenceEventRooms): one rule for all.

/** `*` matches everything, `prefix:*` every room that starts with `prefix:`, anything else itself. */
export function matchesRoom (patterns: readonly string[], room: string): boolean {
  for (const p of patterns) {
    if (p === room || p === '*') return true
    if (p.endsWith('*') && room.startsWith(p.slice(0, -1))) return true
  }
  return false
}
