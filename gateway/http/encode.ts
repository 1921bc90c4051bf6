/**
 * How a delivered message looks in a pull response. Rule for payloads:
 * `payloadBase64` is always present and exact; `payload` is added as a string
 * when the bytes are valid UTF-8 (so JSON and text read naturally), and left
 * out otherwise. Clients that need the bytes use `payloadBase64`.
 */
import { isUtf8 } from 'node:buffer'
import type { Delivery } from '../dispatch/index.js'
import type { UserProperty } from '../../store/index.js'
import { PRIORITY_DEFAULT } from '../message-props.js'

export interface PulledMessage {
  messageId: string
  topic: string
  publishTime: number
  redeliveryCount: number
  key?: string
  priority: number
  deliverAt?: number
  expiresAt?: number
  contentType?: string
  properties: UserProperty[]
  payload?: string
  payloadBase64: string
}

/** Message ids on the HTTP API are the entry id within the topic, as a decimal string. */
export function messageIdOf (entryId: number): string {
  return String(entryId)
}

export function encodeDelivery (d: Delivery): PulledMessage {
  const p = d.props
  const out: PulledMessage = {
    messageId: messageIdOf(d.entryId),
    topic: d.topic,
    publishTime: d.publishTime,
    redeliveryCount: d.redeliveryCount,
    priority: p.priority ?? PRIORITY_DEFAULT,
    properties: (p.userProperties ?? []).map(([n, v]) => [n, v] as const),
    payloadBase64: d.payload.toString('base64')
  }
  if (p.key !== undefined) out.key = p.key
  if (p.deliverAt !== undefined) out.deliverAt = p.deliverAt
  if (p.expiresAt !== undefined) out.expiresAt = p.expiresAt
  if (p.contentType !== undefined) out.contentType = p.contentType
  if (isUtf8(d.payload)) out.payload = d.payload.toString('utf8')
  return out
}
