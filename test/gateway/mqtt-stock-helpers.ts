/**
 * Shared by the mqtt-stock-v5-*.test.ts files: the `mqtt` npm client at its
 * defaults (only protocolVersion 5 and what a scenario is about are set),
 * over TCP and WebSocket.
 */
import type { IClientOptions } from 'mqtt'
import { connectMqtt, type TestGateway, type Teardownable } from '../helpers/gateway.js'

export type Kind = 'tcp' | 'ws'
export const KINDS: Kind[] = ['tcp', 'ws']
export const urlOf = (gw: TestGateway, k: Kind): string => k === 'tcp' ? gw.urls.mqtt : gw.urls.ws

export async function v5 (t: Teardownable, gw: TestGateway, k: Kind, opts: IClientOptions = {}): ReturnType<typeof connectMqtt> {
  return await connectMqtt(t, gw, urlOf(gw, k), { protocolVersion: 5, ...opts })
}
