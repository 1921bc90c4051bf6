/**
 * Read-only views of the front end and the kick operation, for the admin API
 * (gateway/ops). Nothing here is on a packet path.
 */
import { Connection } from './connection.js'
import { ConnState } from './conn-state.js'
import type { FrontEndCore } from './core.js'
import { CloseReason } from './errors.js'
import type { MqttClientInfo, MqttSessionInfo } from './types.js'

export function listClients (core: FrontEndCore): MqttClientInfo[] {
  const out: MqttClientInfo[] = []
  for (const c of core.connections) {
    if (!(c instanceof Connection) || c.ctx === undefined || c.state !== ConnState.connected) continue
    out.push({
      clientId: c.clientId,
      username: c.ctx.username,
      namespace: c.ctx.namespace,
      protocolVersion: c.protocolVersion,
      transport: c.transport.kind,
      remoteAddress: c.transport.remoteAddress,
      subscriptions: c.session?.subs.size ?? 0,
      persistentSession: c.session?.persistent ?? false
    })
  }
  return out
}

export function listSessions (core: FrontEndCore): MqttSessionInfo[] {
  return core.sessions.all().map((s) => ({
    clientId: s.clientId,
    namespace: s.namespace,
    expirySec: s.expirySec,
    connected: s.link !== undefined,
    subscriptions: [...s.subs.values()].map((sub) => ({ filter: sub.parsed.raw, qos: sub.qos }))
  }))
}

/** Close a connected client (v5: DISCONNECT 0x98 Administrative action). False when it is not connected. */
export function kickClient (core: FrontEndCore, clientId: string): boolean {
  for (const c of core.connections) {
    if (c instanceof Connection && c.clientId === clientId && c.state === ConnState.connected) {
      c.close(CloseReason.administrativeAction)
      return true
    }
  }
  return false
}
