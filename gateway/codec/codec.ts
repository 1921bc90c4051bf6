/**
 * The at-rest payload codec: per namespace policy (`compression`,
 * `encryptAtRest`), payloads are compressed, then sealed with AES-256-GCM
 * under the current key before the ledger, and opened after reads. Old
 * records name their key, so keys rotate; a record whose key is missing or
 * wrong is an E_AT_REST_KEY error, never garbage delivered.
 */
import type { MessageProps, UserProperty } from '../../store/index.js'
import type { NamespacePolicy } from '../policy/index.js'
import { FerryError } from '../../common/errors.js'
import { CODEC_INLINE_BYTES_MAX } from './constants.js'
import { compressAsync, compressSync, inflateAsyncOf, inflateSync, open, seal, type CompressionName, type SealKey } from './envelope.js'
import { CodecCode } from './errors.js'

/** User property marking an enveloped record (reserved: stripped from what clients publish and from deliveries). */
export const CODEC_PROPERTY = 'ferry-codec'
const CODEC_VERSION_VALUE = '1'

export interface KeySource {
  /** Current key for sealing; undefined when no key file is loaded. */
  current (): SealKey | undefined
  byId (id: string): Buffer | undefined
}

export interface Encoded { payload: Buffer, props: MessageProps }

export function isEnveloped (props: MessageProps | undefined): boolean {
  const up = props?.userProperties
  if (up === undefined) return false
  for (const [n] of up) if (n === CODEC_PROPERTY) return true
  return false
}

function withoutMarker (up: readonly UserProperty[] | undefined): UserProperty[] | undefined {
  if (up === undefined) return undefined
  const out = up.filter(([n]) => n !== CODEC_PROPERTY)
  return out.length > 0 ? out : undefined
}

function propsWith (props: MessageProps | undefined, marked: boolean): MessageProps {
  const p: MessageProps = { ...(props ?? {}) }
  const up = withoutMarker(p.userProperties)
  if (marked) p.userProperties = [...(up ?? []), [CODEC_PROPERTY, CODEC_VERSION_VALUE]]
  else if (up !== undefined) p.userProperties = up
  else delete p.userProperties
  return p
}

export class PayloadCodec {
  readonly counters = { encoded: 0, decoded: 0, failed: 0 }

  constructor (private readonly keys: KeySource) {}

  /** Does this policy change payloads at rest? */
  active (policy: Readonly<NamespacePolicy>): boolean {
    return policy.encryptAtRest || policy.compression !== 'none'
  }

  private key (policy: Readonly<NamespacePolicy>): SealKey | undefined {
    if (!policy.encryptAtRest) return undefined
    const k = this.keys.current()
    if (k === undefined) throw new FerryError(CodecCode.AT_REST_KEY, 'encryptAtRest is on but no at-rest key is loaded: start the gateway with --pki DIR (at-rest-keys.json)')
    return k
  }

  /** Props a client sent, with the reserved marker removed (nobody may make us decode their bytes). */
  clean (props: MessageProps | undefined): MessageProps | undefined {
    return props !== undefined && isEnveloped(props) ? propsWith(props, false) : props
  }

  inline (payload: Buffer): boolean { return payload.length <= CODEC_INLINE_BYTES_MAX }

  encodeSync (policy: Readonly<NamespacePolicy>, payload: Buffer, props: MessageProps | undefined): Encoded {
    const key = this.key(policy)
    const body = compressSync(policy.compression as CompressionName, payload)
    this.counters.encoded++
    return { payload: seal(policy.compression as CompressionName, body, key), props: propsWith(props, true) }
  }

  async encodeAsync (policy: Readonly<NamespacePolicy>, payload: Buffer, props: MessageProps | undefined): Promise<Encoded> {
    const key = this.key(policy)
    const body = await compressAsync(policy.compression as CompressionName, payload)
    this.counters.encoded++
    return { payload: seal(policy.compression as CompressionName, body, key), props: propsWith(props, true) }
  }

  decodeSync (payload: Buffer, props: MessageProps): Encoded {
    try {
      const out = inflateSync(open(payload, (id) => this.keys.byId(id)))
      this.counters.decoded++
      return { payload: out, props: propsWith(props, false) }
    } catch (err) { this.counters.failed++; throw err }
  }

  async decodeAsync (payload: Buffer, props: MessageProps): Promise<Encoded> {
    try {
      const out = await inflateAsyncOf(open(payload, (id) => this.keys.byId(id)))
      this.counters.decoded++
      return { payload: out, props: propsWith(props, false) }
    } catch (err) { this.counters.failed++; throw err }
  }
}
