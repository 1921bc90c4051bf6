/**
 * Namespace policies: every per-namespace limit and behaviour switch, with
 * units in the names. The store enforces the storage part (durability,
 * retention, TTL); the dispatcher and front ends enforce the rest.
 */
import type { Durability } from '../../store/index.js'

export const BacklogPolicy = {
  /** Slow publishers down: MQTT stops reading / withholds acks, HTTP answers 429. */
  producer_hold: 'producer_hold',
  /** Refuse publishes: MQTT 0x97 Quota exceeded, HTTP 507. */
  producer_exception: 'producer_exception',
  /** Drop the oldest unacknowledged messages of the slowest subscription (counted). */
  consumer_backlog_eviction: 'consumer_backlog_eviction'
} as const
export type BacklogPolicy = typeof BacklogPolicy[keyof typeof BacklogPolicy]

export const PRIORITY_LEVELS = 10

export interface NamespacePolicy {
  durability: Durability
  /** Keep acknowledged messages at least this long; -1 forever, 0 not at all. */
  retentionMs: number
  /** Cap on acknowledged bytes kept per topic; -1 no cap. */
  retentionBytes: number
  /** Namespace message TTL; 0 = messages never expire by namespace policy. */
  messageTtlMs: number
  /** Unacknowledged bytes per topic before backlogPolicy applies; -1 unlimited. */
  backlogQuotaBytes: number
  backlogPolicy: BacklogPolicy
  /** After this many redeliveries the message goes to the dead-letter topic; -1 never. */
  maxRedeliveries: number
  /** Backoff before redelivering a nacked (or timed out) message; the last step repeats. */
  redeliveryBackoffMs: number[]
  /** Unacked this long after delivery counts as a nack; 0 disables. */
  ackTimeoutMs: number
  /** Share of dispatch turns per priority level, index 0 (lowest) .. 9 (highest). */
  priorityWeights: number[]
  /** Honour deliverAt / delay; when false such messages are delivered at once. */
  delayedDeliveryEnabled: boolean
  /** Persist the delivery count before each delivery so redelivery counts survive a crash exactly. */
  hardenRedeliveryCount: boolean
  /** Largest payload accepted, bytes. */
  maxMessageBytes: number
  /** Publish rate limit per namespace, messages per second; 0 unlimited. */
  publishRateMsgsPerSec: number
  // At rest (pki helper; applied by gateway/codec before the ledger, undone after reads): compress, then encrypt.
  /** Payload compression at rest: none, deflate or brotli. */
  compression: Compression
  /** Encrypt payloads at rest with AES-256-GCM (keys in the PKI dir, key id in each record). */
  encryptAtRest: boolean
  /** Export per-topic metric series for this namespace (opt-in: a million topics must not explode cardinality). */
  topicMetricsEnabled: boolean
  /**
   * Every durable subscription of the namespace is geo-replicated (replsubs: replicator/cursor-sync.ts), as if
   * each subscribed with replicated: true — the opt-in for clients that cannot ask (MQTT 3.1.1).
   */
  replicatedSubscriptions: boolean
}

export const Compression = { none: 'none', deflate: 'deflate', brotli: 'brotli' } as const
export type Compression = typeof Compression[keyof typeof Compression]

export type NamespacePolicyPatch = Partial<NamespacePolicy>

export const DEFAULT_NAMESPACE_POLICY: Readonly<NamespacePolicy> = Object.freeze({
  durability: 'sync',
  retentionMs: 0,
  retentionBytes: -1,
  messageTtlMs: 0,
  backlogQuotaBytes: -1,
  backlogPolicy: 'producer_hold',
  maxRedeliveries: -1,
  redeliveryBackoffMs: [1000, 5000, 30000],
  ackTimeoutMs: 0,
  // Higher levels get more turns but every level gets some: no starvation.
  priorityWeights: [1, 1, 2, 2, 4, 4, 8, 8, 16, 16],
  delayedDeliveryEnabled: true,
  hardenRedeliveryCount: true,
  maxMessageBytes: 1024 * 1024,
  publishRateMsgsPerSec: 0,
  compression: 'none',
  encryptAtRest: false,
  topicMetricsEnabled: false,
  replicatedSubscriptions: false
})
