/**
 * Encryption at rest of metadata values that carry a namespace's data: the
 * MQTT retained copy (payload and properties) and the MQTT session record
 * (namespace, expiry, subscriptions and their options). For a namespace with
 * `encryptAtRest` the value is CBOR-encoded and sealed with the payload
 * envelope (AES-256-GCM under the current at-rest key, key id in the
 * envelope), stored as `{ ferrySealed: 1, env }`; old keys stay readable
 * after `ferry pki rotate-key`. A value written without encryption (the
 * policy was off, or the record predates it) opens as itself, so turning the
 * policy on never makes old records unreadable. Metadata keys (topic names,
 * client ids) are not encrypted: the store looks values up by them.
 *
 * Not compressed: metadata values are small and written on the publish path;
 * a synchronous AES-GCM of even a 1 MiB retained payload is under a
 * millisecond, a synchronous brotli would not be.
 */
import { Encoder } from 'cbor-x'
import { FerryError } from '../../common/errors.js'
import type { MetaValue } from '../../store/index.js'
import type { NamespacePolicy } from '../policy/index.js'
import type { KeySource } from './codec.js'
import { open, seal } from './envelope.js'
import { CodecCode } from './errors.js'

/** Field marking a sealed metadata value; no plain value of Ferry's meta spaces uses it. */
export const SEALED_FIELD = 'ferrySealed'
const SEALED_VERSION = 1

const cbor = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false })

/** What gateway/mqtt needs (MqttDeps.metaSealer): seal a value of a namespace, open any value. */
export interface MetaSealer {
  /** The value as it should be stored: sealed when the namespace's policy has encryptAtRest, else unchanged. */
  seal (namespace: string, value: MetaValue): MetaValue
  /** The stored value opened (unchanged when it is not sealed). Throws E_AT_REST_KEY when its key is missing or wrong. */
  open (stored: MetaValue): MetaValue
}

export function isSealedMeta (v: MetaValue | undefined): v is { ferrySealed: number, env: Buffer } {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v) &&
    (v as Record<string, unknown>)[SEALED_FIELD] === SEALED_VERSION && Buffer.isBuffer((v as Record<string, unknown>).env)
}

export class AtRestMetaSealer implements MetaSealer {
  readonly counters = { sealed: 0, opened: 0, failed: 0 }

  constructor (private readonly keys: KeySource, private readonly policyOf: (namespace: string) => Readonly<NamespacePolicy>) {}

  seal (namespace: string, value: MetaValue): MetaValue {
    if (!this.policyOf(namespace).encryptAtRest) return value
    const key = this.keys.current()
    if (key === undefined) throw new FerryError(CodecCode.AT_REST_KEY, `encryptAtRest is on for ${namespace} but no at-rest key is loaded: start the gateway with --pki DIR (at-rest-keys.json)`)
    this.counters.sealed++
    return { [SEALED_FIELD]: SEALED_VERSION, env: seal('none', cbor.encode(value), key) }
  }

  open (stored: MetaValue): MetaValue {
    if (!isSealedMeta(stored)) return stored
    try {
      const body = open(stored.env, (id) => this.keys.byId(id)).body
      const value = cbor.decode(body) as MetaValue
      this.counters.opened++
      return value
    } catch (err) {
      this.counters.failed++
      throw err
    }
  }
}
