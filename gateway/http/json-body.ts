import { isUtf8 } from 'node:buffer'
import { FerryError, CommonCode } from '../../common/errors.js'
import { HttpCode } from './errors.js'
import { mediaTypeOf } from './publish-input.js'

/**
 * A JSON request body: content type absent or application/json (415
 * otherwise), valid UTF-8 and valid JSON (400 otherwise).
 */
export function parseJsonBody (contentType: string | undefined, body: Buffer): unknown {
  const media = mediaTypeOf(contentType)
  if (media !== '' && media !== 'application/json') {
    throw new FerryError(HttpCode.UNSUPPORTED_MEDIA_TYPE, 'request body must be application/json')
  }
  if (body.length === 0) throw new FerryError(CommonCode.BAD_REQUEST, 'request body must be a JSON object')
  if (!isUtf8(body)) throw new FerryError(CommonCode.BAD_REQUEST, 'request body is not valid UTF-8')
  try {
    return JSON.parse(body.toString('utf8'))
  } catch {
    throw new FerryError(CommonCode.BAD_REQUEST, 'request body is not valid JSON')
  }
}
