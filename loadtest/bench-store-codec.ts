/**
 * The at-rest codec's cost in bench:store (issue 9): appends through the
 * codec (gateway/codec, as the gateway runs it: compress, then AES-256-GCM,
 * inline for payloads up to 16 KiB) into a file ledger, for each policy:
 * none, deflate, brotli, AES-256-GCM, and deflate + AES-256-GCM.
 *
 * Async durability, so the figure is the CPU cost of the codec plus the
 * ledger's write path, not the disk's fsync rate (which hides it: a group
 * commit carries hundreds of appends). Reported per run: appends/s, wall
 * microseconds per append at that rate, the codec's own microseconds per
 * append (encode only, measured around it), and stored bytes per append.
 */
import { randomBytes } from 'node:crypto'
import { rm } from 'node:fs/promises'
import { PayloadCodec, PolicyRegistry, type NamespacePolicyPatch } from '../gateway/index.js'
import type { Ledger } from '../store/index.js'

export interface CodecRun {
  appendsPerSec: number
  usPerAppend: number
  codecUsPerAppend: number
  storedBytesPerAppend: number
}

export type CodecRuns = Record<'none' | 'deflate' | 'brotli' | 'aes256gcm' | 'deflateAes256gcm', CodecRun>

const POLICIES: Record<keyof CodecRuns, NamespacePolicyPatch> = {
  none: {},
  deflate: { compression: 'deflate' },
  brotli: { compression: 'brotli' },
  aes256gcm: { encryptAtRest: true },
  deflateAes256gcm: { compression: 'deflate', encryptAtRest: true }
}

/** Concurrent producers (one append outstanding each), as the async run of bench:store. */
const PRODUCERS = 64

/**
 * A 1 KiB JSON-like telemetry payload: compressible like real messages
 * (repeated keys, varying numbers), unlike a run of one byte.
 */
export function telemetryPayload (bytes = 1024): Buffer {
  const parts: string[] = []
  let i = 0
  while (parts.join(',').length < bytes) {
    parts.push(`{"sensor":"s-${(i * 7919) % 1000}","temp":${(20 + ((i * 37) % 150) / 10).toFixed(1)},"ts":${1_700_000_000_000 + i * 1013}}`)
    i++
  }
  return Buffer.from(`[${parts.join(',')}]`.slice(0, bytes - 1) + ']')
}

export async function codecRuns (opts: { secondsPerRun: number, payload: Buffer, tmp: () => Promise<string>, ledger: (dir: string) => Ledger }): Promise<CodecRuns> {
  const key = { id: 'bench', key: randomBytes(32) }
  const codec = new PayloadCodec({ current: () => key, byId: (id) => id === key.id ? key.key : undefined })
  const out: Partial<CodecRuns> = {}
  for (const [name, patch] of Object.entries(POLICIES) as Array<[keyof CodecRuns, NamespacePolicyPatch]>) {
    const policy = new PolicyRegistry({ 'bench/codec': patch }).forTopic('bench/codec/t')
    const dir = await opts.tmp()
    const l = opts.ledger(dir)
    await l.open()
    let count = 0
    let codecMs = 0
    let storedBytes = 0
    const t0 = performance.now()
    const end = t0 + opts.secondsPerRun * 1000
    await Promise.all(Array.from({ length: PRODUCERS }, async (_, p) => {
      const topic = `bench/codec/t${p}`
      while (performance.now() < end) {
        let payload = opts.payload
        let props
        if (codec.active(policy)) {
          const c0 = performance.now()
          const e = codec.encodeSync(policy, payload, undefined)
          codecMs += performance.now() - c0
          payload = e.payload
          props = e.props
        }
        storedBytes += payload.length
        await l.append({ topic, payload, ...(props !== undefined ? { props } : {}) })
        count++
      }
    }))
    const secs = (performance.now() - t0) / 1000
    await l.close()
    await rm(dir, { recursive: true, force: true })
    const perSec = count / secs
    out[name] = {
      appendsPerSec: Math.round(perSec),
      usPerAppend: Number((1e6 / perSec).toFixed(2)),
      codecUsPerAppend: Number((codecMs * 1000 / Math.max(1, count)).toFixed(2)),
      storedBytesPerAppend: Math.round(storedBytes / Math.max(1, count))
    }
  }
  return out as CodecRuns
}
