/**
 * Retained messages, kept in the ledger's metadata (space `retained`, key =
 * full topic name, value = payload + props + the entry id the publish got),
 * so they survive restarts and replicate with the rest of the metadata.
 * The entry id also tells "retain as published" subscriptions whether a
 * delivered entry is the topic's retained message.
 */
import type { Ledger, MessageProps, MetaValue, TopicName } from '../../store/index.js'
import { META_SPACE_RETAINED, RETAINED_PER_SUBSCRIBE_MAX } from './constants.js'
import { localTopicName } from './topics.js'
import { filterMatches, type Delivery } from '../dispatch/index.js'

interface StoredRetained {
  payload: Buffer
  entryId: number
  publishTime: number
  props: MessageProps
}

function isStored (v: MetaValue | undefined): v is MetaValue & StoredRetained {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v) &&
    Buffer.isBuffer((v as { payload?: unknown }).payload) && typeof (v as { entryId?: unknown }).entryId === 'number'
}

/** Drop undefined fields: metadata values are CBOR and keep only what is set. */
function compactProps (props: MessageProps): MessageProps {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(props)) if (v !== undefined) out[k] = v
  return out as MessageProps
}

export class RetainedStore {
  constructor (private readonly ledger: Ledger) {}

  /** Store (or with an empty payload, remove [MQTT-3.3.1-6] [MQTT-3.3.1-7]) the retained message of a topic. */
  async put (topic: TopicName, payload: Buffer, props: MessageProps, entryId: number, publishTime: number): Promise<void> {
    if (payload.length === 0) {
      if (this.ledger.getMeta(META_SPACE_RETAINED, topic) !== undefined) await this.ledger.putMeta(META_SPACE_RETAINED, topic, undefined)
      return
    }
    const value: StoredRetained = { payload: Buffer.from(payload), entryId, publishTime, props: compactProps(props) }
    await this.ledger.putMeta(META_SPACE_RETAINED, topic, value as unknown as MetaValue)
  }

  isRetainedEntry (topic: TopicName, entryId: number): boolean {
    const v = this.ledger.getMeta(META_SPACE_RETAINED, topic)
    return isStored(v) && v.entryId === entryId
  }

  /** Retained messages of `namespace` matching a local filter, as deliveries (bounded). */
  matching (namespace: string, filter: string): Delivery[] {
    const out: Delivery[] = []
    const now = Date.now()
    const levels = filter.split('/') // checked by the SUBSCRIBE handler; split once, not per retained topic
    for (const [topic, v] of this.ledger.metaEntries(META_SPACE_RETAINED)) {
      const local = localTopicName(namespace, topic)
      if (local === undefined || !filterMatches(levels, local) || !isStored(v)) continue
      if (v.props.expiresAt !== undefined && v.props.expiresAt <= now) continue
      out.push({ topic, entryId: v.entryId, subscription: '', publishTime: v.publishTime, payload: v.payload, props: v.props, redeliveryCount: 0 })
      if (out.length >= RETAINED_PER_SUBSCRIBE_MAX) break
    }
    return out
  }
}
