/**
 * Publish paths already seen, parsed: the route, the full topic name, its
 * JSON form for the reply, and the namespace's policy with the body bound it
 * sets. A publish to a known path skips the URL split, the percent-decoding,
 * the name checks and the policy lookup; what depends on the request (auth,
 * headers, body) is still checked every time, in the same order as before
 * (route, then credentials, then the namespace).
 *
 * The policy is kept with the registry's generation: any namespace change
 * (admin PUT, delete) bumps it, and the next request re-reads its policy
 * (a deleted namespace answers 404 again and leaves the cache).
 */
import { FerryError, CommonCode } from '../../common/errors.js'
import type { NamespacePolicy } from '../policy/index.js'
import { checkNamespaceName } from '../policy/index.js'
import { checkPublishTopicLocal, fullTopicName } from '../topic-names.js'
import type { ProducerRef } from '../dispatch/index.js'
import { PRODUCER_ADDRESS_REUSE_MS, PUBLISH_TARGET_PATH_CHARS_MAX, PUBLISH_TARGETS_CACHED_MAX } from './constants.js'
import type { HttpContext } from './context.js'
import { HttpCode } from './errors.js'

export interface PublishRoute { kind: 'publish', tenant: string, namespace: string, local: string }

export interface PublishTarget {
  readonly route: PublishRoute
  readonly namespace: string
  readonly topic: string
  /** `JSON.stringify(topic)`, for the 201 body. */
  readonly topicJson: string
  policy: Readonly<NamespacePolicy>
  /** PolicyRegistry.generation when `policy` was read. */
  generation: number
  /** min(maxBodyBytes, the namespace's maxMessageBytes). */
  bodyBytesMax: number
  /** The 413 for a body over bodyBytesMax, with the reason that applies. */
  tooLarge: () => Error
  /** Producer of the last publish without a producer id (its client address), and when it was read (ms): see addressProducer. */
  addressProducer: ProducerRef | undefined
  addressReadAtMs: number
}

/**
 * The producer of a publish without `Ferry-Producer-Id`: its client address,
 * read again only once PRODUCER_ADDRESS_REUSE_MS has passed since the last
 * read for this path (the read is a system call; constants.ts). The
 * ProducerRef is shared by the publishes it names (the tracker only reads it).
 */
export function addressProducer (t: PublishTarget, head: { readonly remoteAddress: string }, nowMs: number): ProducerRef {
  const p = t.addressProducer
  // A clock that went back reads again too.
  if (p !== undefined && nowMs - t.addressReadAtMs < PRODUCER_ADDRESS_REUSE_MS && nowMs >= t.addressReadAtMs) return p
  const name = head.remoteAddress
  const next: ProducerRef = p !== undefined && p.name === name ? p : { name, protocol: 'http' }
  t.addressProducer = next
  t.addressReadAtMs = nowMs
  return next
}

export function messageTooLarge (policy: Readonly<NamespacePolicy>): FerryError {
  return new FerryError(CommonCode.TOO_LARGE, `message larger than the namespace's maxMessageBytes (${policy.maxMessageBytes})`)
}

export function bodyTooLarge (maxBodyBytes: number): FerryError {
  return new FerryError(HttpCode.BODY_TOO_LARGE, `request body larger than ${maxBodyBytes} bytes`)
}

export class PublishTargets {
  private readonly byPath = new Map<string, PublishTarget>()

  constructor (private readonly ctx: HttpContext) {}

  get size (): number { return this.byPath.size }

  /** The target of a POST path seen before (check credentials, then call fresh()); undefined when not cached. */
  cached (path: string): PublishTarget | undefined {
    return this.byPath.get(path)
  }

  /** The target with its policy brought up to date: re-read when any namespace changed since (one integer compare otherwise). Throws E_NOT_FOUND when its namespace is gone. */
  fresh (path: string, t: PublishTarget): PublishTarget {
    const registry = this.ctx.deps.policies
    if (t.generation === registry.generation) return t
    let policy: Readonly<NamespacePolicy>
    try {
      policy = registry.get(t.namespace) // E_NOT_FOUND once the namespace is deleted
    } catch (err) {
      this.byPath.delete(path)
      throw err
    }
    this.setPolicy(t, policy, registry.generation)
    return t
  }

  /** Resolve a matched publish route (400 for bad names, 404 for an unknown namespace) and keep it for the path. */
  resolve (path: string, route: PublishRoute): PublishTarget {
    const namespace = checkNamespaceName(route.tenant, route.namespace)
    const registry = this.ctx.deps.policies
    const generation = registry.generation
    const policy = registry.get(namespace)
    checkPublishTopicLocal(route.local)
    const topic = fullTopicName(namespace, route.local)
    const t: PublishTarget = { route, namespace, topic, topicJson: JSON.stringify(topic), policy, generation, bodyBytesMax: 0, tooLarge: () => new Error('unset'), addressProducer: undefined, addressReadAtMs: 0 }
    this.setPolicy(t, policy, generation)
    // A registry without a generation (a test fake) is never cached: nothing would tell the cache about changes.
    if (typeof generation === 'number' && path.length <= PUBLISH_TARGET_PATH_CHARS_MAX) {
      if (this.byPath.size >= PUBLISH_TARGETS_CACHED_MAX) {
        const oldest = this.byPath.keys().next().value
        if (oldest !== undefined) this.byPath.delete(oldest)
      }
      this.byPath.set(path, t)
    }
    return t
  }

  private setPolicy (t: PublishTarget, policy: Readonly<NamespacePolicy>, generation: number): void {
    const maxBodyBytes = this.ctx.limits.maxBodyBytes
    const messageIsSmaller = policy.maxMessageBytes < maxBodyBytes
    t.policy = policy
    t.generation = generation
    t.bodyBytesMax = Math.min(maxBodyBytes, policy.maxMessageBytes)
    t.tooLarge = messageIsSmaller ? () => messageTooLarge(policy) : () => bodyTooLarge(maxBodyBytes)
  }
}
