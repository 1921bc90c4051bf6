/**
 * The one place that loads uWebSockets.js. We load the native binary directly
 * and refuse to start without it: the package's `ws` fallback would silently
 * turn a high-throughput gateway into a slow one.
 */
import { createRequire } from 'node:module'
import { FerryError } from '../common/errors.js'
import { GatewayCode } from './errors.js'
import type * as UwsTypes from 'uWebSockets.js'

export type Uws = typeof UwsTypes
export type { TemplatedApp, HttpRequest, HttpResponse, WebSocket, WebSocketBehavior, us_listen_socket } from 'uWebSockets.js'

const require = createRequire(import.meta.url)

function loadNative (): Uws {
  const binary = `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`
  try {
    return require(`uWebSockets.js/binaries/${binary}`) as Uws
  } catch (cause) {
    throw new FerryError(GatewayCode.UWS_NATIVE_MISSING,
      `uWebSockets.js has no native build ${binary} for this Node.js (${process.version}); Ferry does not run on its ws fallback`,
      { cause })
  }
}

export const uws: Uws = loadNative()
