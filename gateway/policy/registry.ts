import { FerryError, CommonCode } from '../../common/errors.js'
import { MetaSpace, type Ledger, type MetaValue, type TopicStorePolicy } from '../../store/index.js'
import { DEFAULT_NAMESPACE_POLICY, type NamespacePolicy, type NamespacePolicyPatch } from './types.js'
import { validatePolicyPatch } from './validate.js'

/** Ledger meta space holding namespace policies (key `tenant/namespace`). */
const POLICY_META_SPACE = MetaSpace.namespacePolicy

/** Longest tenant or namespace name, characters. */
export const NAMESPACE_PART_CHARS_MAX = 128
const NAME_PART = /^[A-Za-z0-9_.-]+$/

export type PolicyListener = (namespace: string, policy: Readonly<NamespacePolicy>) => void

export function checkNamespaceName (tenant: string, namespace: string): string {
  for (const part of [tenant, namespace]) {
    if (part.length === 0 || part.length > NAMESPACE_PART_CHARS_MAX || !NAME_PART.test(part)) {
      throw new FerryError(CommonCode.BAD_REQUEST, `invalid tenant or namespace name '${part}'`)
    }
  }
  return `${tenant}/${namespace}`
}

/** Split a full topic name `tenant/namespace/local` into its namespace and local part. */
export function splitTopicName (topic: string): { namespace: string, local: string } {
  const end = namespaceEnd(topic)
  if (end < 0) throw new FerryError(CommonCode.BAD_REQUEST, `not a full topic name: '${topic}'`)
  return { namespace: topic.slice(0, end), local: topic.slice(end + 1) }
}

/** `tenant/namespace` of a full topic name, or undefined when it has none. No validation beyond the two parts. */
export function namespaceOfTopic (topic: string): string | undefined {
  const end = namespaceEnd(topic)
  return end < 0 ? undefined : topic.slice(0, end)
}

/** Index of the `/` that ends `tenant/namespace` (both non-empty), or -1. */
function namespaceEnd (topic: string): number {
  const a = topic.indexOf('/')
  const b = a <= 0 ? -1 : topic.indexOf('/', a + 1)
  return b <= a + 1 ? -1 : b
}

/**
 * The namespaces a site knows and their policies. Namespaces come from the
 * site configuration and from the admin API; both are persisted in the
 * ledger's metadata so a restart keeps admin changes. Changes apply live:
 * listeners (the dispatcher) re-read the policy of open subscriptions.
 */
export class PolicyRegistry {
  private readonly policies = new Map<string, Readonly<NamespacePolicy>>()
  private readonly listeners = new Set<PolicyListener>()
  private ledger: Ledger | undefined
  /**
   * Bumped on every change of any namespace (create, update, delete, load):
   * lets a hot path (gateway/http's publish route cache) keep a policy it
   * looked up and know with one integer compare that it is still the one.
   */
  generation = 0

  /** Namespaces from the config file; applied before the ledger's persisted ones are loaded. */
  constructor (seed: Record<string, NamespacePolicyPatch> = {}) {
    for (const [ns, patch] of Object.entries(seed)) {
      const [tenant = '', name = ''] = ns.split('/')
      const key = checkNamespaceName(tenant, name)
      this.policies.set(key, Object.freeze({ ...DEFAULT_NAMESPACE_POLICY, ...validatePolicyPatch(patch) }))
    }
  }

  /** Load persisted policies (admin changes win over the config seed) and persist future changes. */
  attach (ledger: Ledger): void {
    this.ledger = ledger
    for (const [ns, value] of ledger.metaEntries(POLICY_META_SPACE)) {
      const base = this.policies.get(ns) ?? DEFAULT_NAMESPACE_POLICY
      this.policies.set(ns, Object.freeze({ ...base, ...validatePolicyPatch(value) }))
    }
    this.generation++
  }

  has (namespace: string): boolean { return this.policies.has(namespace) }

  namespaces (): string[] { return [...this.policies.keys()] }

  /** Policy of a namespace; E_NOT_FOUND for an unknown one (HTTP 404). */
  get (namespace: string): Readonly<NamespacePolicy> {
    const p = this.policies.get(namespace)
    if (p === undefined) throw new FerryError(CommonCode.NOT_FOUND, `unknown tenant/namespace '${namespace}'`)
    return p
  }

  /** Policy for a full topic name; unknown namespaces get the defaults (the store must never fail on a lookup). */
  forTopic (topic: string): Readonly<NamespacePolicy> {
    const ns = namespaceOfTopic(topic)
    return (ns === undefined ? undefined : this.policies.get(ns)) ?? DEFAULT_NAMESPACE_POLICY
  }

  /** What the store needs to know about a topic. */
  storePolicy (topic: string): TopicStorePolicy {
    const p = this.forTopic(topic)
    return { durability: p.durability, retentionMs: p.retentionMs, retentionBytes: p.retentionBytes, ttlMs: p.messageTtlMs }
  }

  /** Create or update a namespace (admin PUT). Validates, persists, then notifies. */
  async put (namespace: string, patch: unknown): Promise<Readonly<NamespacePolicy>> {
    const [tenant = '', name = ''] = namespace.split('/')
    const key = checkNamespaceName(tenant, name)
    const clean = validatePolicyPatch(patch)
    const prev = this.policies.get(key)
    if (prev !== undefined && clean.durability !== undefined && clean.durability !== prev.durability) {
      // Existing topics keep the durability they were created with in the log; refusing is clearer than a silent mix.
      throw new FerryError(CommonCode.BAD_REQUEST, 'durability of an existing namespace cannot change')
    }
    const next = Object.freeze({ ...(prev ?? DEFAULT_NAMESPACE_POLICY), ...clean })
    if (this.ledger !== undefined) {
      const stored = this.ledger.getMeta(POLICY_META_SPACE, key)
      const merged = { ...(isRecord(stored) ? stored : {}), ...clean } as unknown as MetaValue
      await this.ledger.putMeta(POLICY_META_SPACE, key, merged)
    }
    this.policies.set(key, next)
    this.generation++
    for (const l of this.listeners) l(key, next)
    return next
  }

  /**
   * Forget a namespace (admin DELETE): its persisted policy is removed and
   * listeners are not told (nothing may still use it: the caller checks that
   * the namespace holds no subscriptions or data). False when unknown.
   */
  async delete (namespace: string): Promise<boolean> {
    if (!this.policies.has(namespace)) return false
    if (this.ledger !== undefined && this.ledger.getMeta(POLICY_META_SPACE, namespace) !== undefined) {
      await this.ledger.putMeta(POLICY_META_SPACE, namespace, undefined)
    }
    this.policies.delete(namespace)
    this.generation++
    return true
  }

  onChange (listener: PolicyListener): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }
}

function isRecord (v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v)
}
