import { isUtf8 } from 'node:buffer'
import { FerryError, CommonCode } from '../../common/errors.js'
import { HttpCode } from './errors.js'
import { mediaTypeOf } from './publish-input.js'

/**
 * Content types a JSON route reads as JSON: application/json, any `+json`
 * type, and none at all (a bare client that sends no Content-Type). Anything
 * else is a 415, as docs/HTTP.md promises: text/plain (fetch's default for a
 * string body) and application/x-www-form-urlencoded (curl -d's default) too,
 * because a body labelled as something else is a client mistake the client
 * should hear about rather than have guessed away.
 */
function readsAsJson (media: string): boolean {
  return media === '' || media === 'application/json' || media.endsWith('+json')
}

/** A JSON request body: 415 for a content type that is not JSON, 400 when not valid UTF-8 JSON. */
export function parseJsonBody (contentType: string | undefined, body: Buffer): unknown {
  const media = mediaTypeOf(contentType)
  if (!readsAsJson(media)) {
    throw new FerryError(HttpCode.UNSUPPORTED_MEDIA_TYPE, `request body must be JSON: send Content-Type: application/json (got ${media})`)
  }
  if (body.length === 0) throw new FerryError(CommonCode.BAD_REQUEST, 'request body must be a JSON object')
  if (!isUtf8(body)) throw new FerryError(CommonCode.BAD_REQUEST, 'request body is not valid UTF-8')
  try {
    return JSON.parse(body.toString('utf8'))
  } catch {
    throw new FerryError(CommonCode.BAD_REQUEST, 'request body is not valid JSON')
  }
}
