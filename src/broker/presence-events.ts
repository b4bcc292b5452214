// presence.join / presence.leave (docs/protocol.md §4): ordinary events to the room, sent when a
// user's first connection joins it and when the last one leaves, counted across every node.
import type { OutgoingEvent } from './types.js'

export const presenceEvent = (what: 'join' | 'leave', room: string, userId: string): OutgoingEvent =>
  ({ target: `room:${room}`, event: `presence.${what}`, data: { room, userId } })
