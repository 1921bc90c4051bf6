/**
 * Connection states (see connection.ts). Its own module so the packet
 * handlers need only types from connection.ts: no run-time import cycle
 * between the connection and its handlers.
 */
export const ConnState = { awaitConnect: 'awaitConnect', connecting: 'connecting', connected: 'connected', closed: 'closed' } as const
export type ConnState = typeof ConnState[keyof typeof ConnState]
