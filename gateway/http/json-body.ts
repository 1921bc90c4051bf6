import { isUtf8 } from 'node:buffer'
import { FerryError, CommonCode } from '../../common/errors.js'
import { HttpCode } from './errors.js'
import { mediaTypeOf } from './publish-input.js'

/**
 * Content types a JSON route reads as JSON. Besides JSON itself: none (bare
 * clients), text/plain (fetch's default for a string body) and
 * application/x-www-form-urlencoded (curl -d's default), so the obvious
 * one-liners work. Anything else (XML, CBOR, multipart, ...) is a client
 * mistake worth a 415.
 */
function readsAsJson (media: string): boolean {
  return media === '' || media === 'application/json' || media.endsWith('+json') ||
    media === 'text/plain' || media === 'application/x-www-form-urlencoded'
}

/** A JSON request body: 415 for a content type that is not JSON, 400 when not valid UTF-8 JSON. */
export function parseJsonBody (contentType: string | undefined, body: Buffer): unknown {
  const media = mediaTypeOf(contentType)
  if (!readsAsJson(media)) {
    throw new FerryError(HttpCode.UNSUPPORTED_MEDIA_TYPE, `request body must be JSON (application/json), not ${media}`)
  }
  if (body.length === 0) throw new FerryError(CommonCode.BAD_REQUEST, 'request body must be a JSON object')
  if (!isUtf8(body)) throw new FerryError(CommonCode.BAD_REQUEST, 'request body is not valid UTF-8')
  try {
    return JSON.parse(body.toString('utf8'))
  } catch {
    throw new FerryError(CommonCode.BAD_REQUEST, 'request body is not valid JSON')
  }
}
