/**
 * Retained messages, kept in the ledger's metadata (space `retained`, key =
 * full topic name, value = payload + props + the entry id the publish got),
 * so they survive restarts and replicate with the rest of the metadata.
 * The entry id also tells "retain as published" subscriptions whether a
 * delivered entry is the topic's retained message.
 *
 * In a namespace with `encryptAtRest` the payload and props are sealed
 * (MqttDeps.metaSealer, gateway/codec/meta-sealer.ts): the value is
 * `{ entryId, publishTime, sealed }`. Plain values (written before the policy
 * was on) still read. A sealed value whose key is missing is skipped with an
 * error logged, never delivered as garbage.
 */
import type { Logger } from '../../common/log.js'
import type { Ledger, MessageProps, MetaValue, TopicName } from '../../store/index.js'
import type { MetaSealer } from '../codec/index.js'
import { namespaceOfTopic } from '../policy/index.js'
import { META_SPACE_RETAINED, RETAINED_PER_SUBSCRIBE_MAX } from './constants.js'
import { localTopicName } from './topics.js'
import { filterMatches, type Delivery } from '../dispatch/index.js'

interface StoredRetained {
  payload: Buffer
  entryId: number
  publishTime: number
  props: MessageProps
}

/** The sealed form: what is secret (payload, props) inside `sealed`; the entry id and time outside, for lookups without a key. */
interface SealedRetained { entryId: number, publishTime: number, sealed: MetaValue }

function isObject (v: MetaValue | undefined): v is { readonly [k: string]: MetaValue | undefined } {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v)
}

function isStored (v: MetaValue | undefined): v is MetaValue & StoredRetained {
  return isObject(v) && Buffer.isBuffer(v.payload) && typeof v.entryId === 'number'
}

function isSealed (v: MetaValue | undefined): v is MetaValue & SealedRetained {
  return isObject(v) && v.sealed !== undefined && typeof v.entryId === 'number' && typeof v.publishTime === 'number'
}

/** Drop undefined fields: metadata values are CBOR and keep only what is set. */
function compactProps (props: MessageProps): MessageProps {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(props)) if (v !== undefined) out[k] = v
  return out as MessageProps
}

export class RetainedStore {
  /** Sealed values that did not open (missing or wrong at-rest key): skipped, counted, logged. */
  unreadable = 0

  constructor (private readonly ledger: Ledger, private readonly sealer?: MetaSealer, private readonly logger?: Logger) {}

  /** The stored value in the plain form, opening a sealed one; undefined when it cannot be read. */
  private read (topic: TopicName, v: MetaValue | undefined): StoredRetained | undefined {
    if (isStored(v)) return v
    if (!isSealed(v) || this.sealer === undefined) return undefined
    try {
      const inner = this.sealer.open(v.sealed)
      if (!isObject(inner) || !Buffer.isBuffer(inner.payload) || !isObject(inner.props)) return undefined
      return { payload: inner.payload, props: inner.props as unknown as MessageProps, entryId: v.entryId, publishTime: v.publishTime }
    } catch (err) {
      this.unreadable++
      this.logger?.error({ err, topic }, 'retained message does not open (at-rest key missing or wrong): not delivered')
      return undefined
    }
  }

  /** Store (or with an empty payload, remove [MQTT-3.3.1-6] [MQTT-3.3.1-7]) the retained message of a topic. */
  async put (topic: TopicName, payload: Buffer, props: MessageProps, entryId: number, publishTime: number): Promise<void> {
    if (payload.length === 0) {
      if (this.ledger.getMeta(META_SPACE_RETAINED, topic) !== undefined) await this.ledger.putMeta(META_SPACE_RETAINED, topic, undefined)
      return
    }
    const value: StoredRetained = { payload: Buffer.from(payload), entryId, publishTime, props: compactProps(props) }
    const ns = namespaceOfTopic(topic)
    const secret = { payload: value.payload, props: value.props as unknown as MetaValue }
    const sealed = this.sealer !== undefined && ns !== undefined ? this.sealer.seal(ns, secret) : secret
    const stored: MetaValue = sealed === secret ? value as unknown as MetaValue : { entryId, publishTime, sealed }
    await this.ledger.putMeta(META_SPACE_RETAINED, topic, stored)
  }

  isRetainedEntry (topic: TopicName, entryId: number): boolean {
    const v = this.ledger.getMeta(META_SPACE_RETAINED, topic)
    return (isStored(v) || isSealed(v)) && v.entryId === entryId
  }

  /** Retained messages of `namespace` matching a local filter, as deliveries (bounded). */
  matching (namespace: string, filter: string): Delivery[] {
    const out: Delivery[] = []
    const now = Date.now()
    const levels = filter.split('/') // checked by the SUBSCRIBE handler; split once, not per retained topic
    for (const [topic, raw] of this.ledger.metaEntries(META_SPACE_RETAINED)) {
      const local = localTopicName(namespace, topic)
      if (local === undefined || !filterMatches(levels, local)) continue
      const v = this.read(topic, raw) // opened only when it matches: a key is needed for these values alone
      if (v === undefined) continue
      if (v.props.expiresAt !== undefined && v.props.expiresAt <= now) continue
      out.push({ topic, entryId: v.entryId, subscription: '', publishTime: v.publishTime, payload: v.payload, props: v.props, redeliveryCount: 0 })
      if (out.length >= RETAINED_PER_SUBSCRIBE_MAX) break
    }
    return out
  }
}
