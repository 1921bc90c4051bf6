/**
 * createMqttFrontEnd: the MQTT front end of a gateway, shared by every
 * listener (TCP, TLS, WebSocket).
 */
import { FrontEndCore } from './core.js'
import { Connection } from './connection.js'
import { CloseReason } from './errors.js'
import type { MqttDeps, MqttFrontEnd } from './types.js'
import { kickClient, listClients, listSessions } from './admin.js'

export async function createMqttFrontEnd (deps: MqttDeps): Promise<MqttFrontEnd> {
  const core = new FrontEndCore(deps)
  core.sessions.load()
  let closed: Promise<void> | undefined

  function shutdown (): void {
    core.closing = true
    core.wills.close()
    for (const c of [...core.connections]) c.close(CloseReason.serverShuttingDown)
  }

  return {
    limits: core.limits,
    accept (transport) {
      const conn = new Connection(core, transport)
      if (core.closing) conn.close(CloseReason.serverShuttingDown)
      return conn
    },
    stats () { return core.stats() },
    clients () { return listClients(core) },
    sessionList () { return listSessions(core) },
    kick (clientId) { return kickClient(core, clientId) },
    shutdown,
    steerAway () {
      let n = 0
      for (const c of [...core.connections]) {
        if (!(c instanceof Connection) || c.ctx === undefined) continue
        const ref = core.deps.steer?.({ namespace: c.ctx.namespace, transport: c.transport.kind })
        if (ref === undefined) continue
        c.close(CloseReason.useAnotherServer, ref)
        n++
      }
      return n
    },
    async close () {
      closed ??= (async () => {
        shutdown()
        await core.sessions.close()
      })()
      await closed
    }
  }
}
