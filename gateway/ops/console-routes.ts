/**
 * The web console's files (console/dist, built by console/build.mjs), served
 * from the local disk: no CDN. The page itself needs no credential (it holds
 * no data); every API call it makes, and the live feed, need the admin action.
 */
import { readFile, stat } from 'node:fs/promises'
import { join, normalize } from 'node:path'
import { FerryError, CommonCode } from '../../common/errors.js'
import type { ApiReply } from '../http/index.js'
import type { OpsContext } from './context.js'
import { CONSOLE_FILE_BYTES_MAX } from './constants.js'
import type { OpsRoute } from './route-table.js'

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png'
}
const FILE = /^[A-Za-z0-9_.-]{1,128}$/

async function serve (ctx: OpsContext, name: string): Promise<ApiReply> {
  if (!FILE.test(name) || name.startsWith('.')) throw new FerryError(CommonCode.NOT_FOUND, `no console file ${name}`)
  const ext = name.slice(name.lastIndexOf('.'))
  const type = TYPES[ext]
  const path = normalize(join(ctx.consoleDir, name))
  if (type === undefined || !path.startsWith(normalize(ctx.consoleDir))) throw new FerryError(CommonCode.NOT_FOUND, `no console file ${name}`)
  const size = await stat(path).then((s) => s.size, () => undefined)
  if (size === undefined) {
    throw new FerryError(CommonCode.NOT_FOUND, name === 'index.html' ? 'the console is not built: run `node console/build.mjs` (scripts/setup.sh does)' : `no console file ${name}`)
  }
  if (size > CONSOLE_FILE_BYTES_MAX) throw new FerryError(CommonCode.TOO_LARGE, `console file ${name} is larger than ${CONSOLE_FILE_BYTES_MAX} bytes`)
  return { status: 200, body: await readFile(path), contentType: type, headers: [['cache-control', 'no-cache']] }
}

export const consoleRoutes: OpsRoute[] = [
  { method: 'GET', path: '/console', operationId: 'console', admin: false, handle: async (ctx) => await serve(ctx, 'index.html') },
  { method: 'GET', path: '/console/{file}', operationId: 'consoleFile', admin: false, handle: async (ctx, req) => await serve(ctx, req.params.file ?? 'index.html') }
]
