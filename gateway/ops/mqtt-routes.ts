/** MQTT sessions and connected clients: list, kick. */
import { FerryError, CommonCode } from '../../common/errors.js'
import type { OpsContext } from './context.js'
import { param } from './params.js'
import { ok, type OpsRoute } from './route-table.js'

function front (ctx: OpsContext): NonNullable<ReturnType<OpsContext['mqtt']>> {
  const m = ctx.mqtt()
  if (m === undefined) throw new FerryError(CommonCode.NOT_FOUND, 'this gateway has no MQTT front end')
  return m
}

export const mqttRoutes: OpsRoute[] = [
  {
    method: 'GET',
    path: '/v1/admin/mqtt/clients',
    operationId: 'listMqttClients',
    admin: true,
    handle: (ctx) => ok({ clients: front(ctx).clients() })
  },
  {
    method: 'GET',
    path: '/v1/admin/mqtt/sessions',
    operationId: 'listMqttSessions',
    admin: true,
    handle: (ctx) => ok({ sessions: front(ctx).sessionList() })
  },
  {
    method: 'DELETE',
    path: '/v1/admin/mqtt/clients/{clientId}',
    operationId: 'kickMqttClient',
    admin: true,
    handle: (ctx, req) => {
      const clientId = param(req, 'clientId')
      if (!front(ctx).kick(clientId)) throw new FerryError(CommonCode.NOT_FOUND, `client ${clientId} is not connected`)
      ctx.logger.info({ clientId }, 'client kicked by admin')
      return ok({ kicked: true, clientId })
    }
  }
]
