/**
 * The at-rest envelope of one payload (compress, then encrypt, as
 * transactional middleware does):
 *
 *   byte 0      version (1)
 *   byte 1      flags: bits 0-1 compression (0 none, 1 deflate, 2 brotli), bit 2 encrypted
 *   encrypted:  byte 2 key id length L, L bytes key id (ASCII), 12 bytes IV, 16 bytes GCM tag, ciphertext
 *   otherwise:  the (compressed) payload
 *
 * The header up to the IV is the GCM additional data, so flags and key id
 * cannot be altered without the tag failing. A record is marked as
 * enveloped by the user property `ferry-codec` (set and stripped by the
 * codec), never by guessing from the bytes.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import zlib from 'node:zlib'
import { promisify } from 'node:util'
import { FerryError } from '../../common/errors.js'
import { BROTLI_QUALITY, DECOMPRESSED_BYTES_MAX } from './constants.js'
import { CodecCode } from './errors.js'

export const ENVELOPE_VERSION = 1
const IV_BYTES = 12
const TAG_BYTES = 16
export const CompressionId = { none: 0, deflate: 1, brotli: 2 } as const
export type CompressionName = keyof typeof CompressionId
const ENCRYPTED = 0x04

const brotliOpts = { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY }, maxOutputLength: DECOMPRESSED_BYTES_MAX }
const inflateOpts = { maxOutputLength: DECOMPRESSED_BYTES_MAX }
const deflateAsync = promisify(zlib.deflateRaw)
const inflateAsync = promisify(zlib.inflateRaw)
const brotliAsync = promisify(zlib.brotliCompress)
const unbrotliAsync = promisify(zlib.brotliDecompress)

export interface SealKey { id: string, key: Buffer }

function bad (message: string, cause?: unknown): FerryError {
  return new FerryError(CodecCode.AT_REST_KEY, message, cause !== undefined ? { cause } : undefined)
}

export function compressSync (c: CompressionName, b: Buffer): Buffer {
  if (c === 'deflate') return zlib.deflateRawSync(b)
  if (c === 'brotli') return zlib.brotliCompressSync(b, brotliOpts)
  return b
}

export async function compressAsync (c: CompressionName, b: Buffer): Promise<Buffer> {
  if (c === 'deflate') return await deflateAsync(b)
  if (c === 'brotli') return await brotliAsync(b, brotliOpts)
  return b
}

function decompressSync (id: number, b: Buffer): Buffer {
  if (id === CompressionId.deflate) return zlib.inflateRawSync(b, inflateOpts)
  if (id === CompressionId.brotli) return zlib.brotliDecompressSync(b, brotliOpts)
  return b
}

async function decompressAsync (id: number, b: Buffer): Promise<Buffer> {
  if (id === CompressionId.deflate) return await inflateAsync(b, inflateOpts)
  if (id === CompressionId.brotli) return await unbrotliAsync(b, brotliOpts)
  return b
}

/** Wrap an (already compressed) body: header, then AES-256-GCM when a key is given. */
export function seal (c: CompressionName, body: Buffer, key: SealKey | undefined): Buffer {
  const flags = CompressionId[c] | (key !== undefined ? ENCRYPTED : 0)
  if (key === undefined) return Buffer.concat([Buffer.from([ENVELOPE_VERSION, flags]), body])
  const kid = Buffer.from(key.id, 'ascii')
  const header = Buffer.concat([Buffer.from([ENVELOPE_VERSION, flags, kid.length]), kid])
  const iv = randomBytes(IV_BYTES)
  const cipher = createCipheriv('aes-256-gcm', key.key, iv)
  cipher.setAAD(header)
  const ct = Buffer.concat([cipher.update(body), cipher.final()])
  return Buffer.concat([header, iv, cipher.getAuthTag(), ct])
}

export interface Opened { compression: number, body: Buffer, keyId: string | undefined }

/** Undo the encryption; the body may still be compressed. Throws E_AT_REST_KEY with what is wrong. */
export function open (record: Buffer, keyOf: (id: string) => Buffer | undefined): Opened {
  if (record.length < 2 || record[0] !== ENVELOPE_VERSION) throw bad('at-rest record has an unknown envelope version')
  const flags = record[1] as number
  const compression = flags & 0x03
  if ((flags & ENCRYPTED) === 0) return { compression, body: record.subarray(2), keyId: undefined }
  const kidLen = record[2] ?? 0
  const headerEnd = 3 + kidLen
  if (record.length < headerEnd + IV_BYTES + TAG_BYTES) throw bad('at-rest record is truncated')
  const keyId = record.subarray(3, headerEnd).toString('ascii')
  const key = keyOf(keyId)
  if (key === undefined) throw bad(`at-rest key ${keyId} is not in the key file: restore it (at-rest-keys.json of the PKI dir) to read these records`)
  const iv = record.subarray(headerEnd, headerEnd + IV_BYTES)
  const tag = record.subarray(headerEnd + IV_BYTES, headerEnd + IV_BYTES + TAG_BYTES)
  const decipher = createDecipheriv('aes-256-gcm', key, iv)
  decipher.setAAD(record.subarray(0, headerEnd))
  decipher.setAuthTag(tag)
  try {
    const body = Buffer.concat([decipher.update(record.subarray(headerEnd + IV_BYTES + TAG_BYTES)), decipher.final()])
    return { compression, body, keyId }
  } catch (err) {
    throw bad(`at-rest record does not open with key ${keyId} (wrong key, or the record was altered)`, err)
  }
}

export function inflateSync (o: Opened): Buffer {
  try { return decompressSync(o.compression, o.body) } catch (err) { throw bad('at-rest record does not decompress', err) }
}

export async function inflateAsyncOf (o: Opened): Promise<Buffer> {
  try { return await decompressAsync(o.compression, o.body) } catch (err) { throw bad('at-rest record does not decompress', err) }
}
