/**
 * Where namespace policies come from. A site's PolicyRegistry
 * (gateway/policy) starts from its config file and the admin API's changes;
 * a PolicySource (etcd here, a file elsewhere) feeds it as well.
 *
 * Source of truth: once a site has a topology from etcd, etcd wins: every
 * namespace etcd holds is applied over the local policy at start and on
 * every change (a local admin change to such a namespace lasts until etcd's
 * next change of it). Namespaces etcd does not hold stay as configured.
 */
import type { Logger } from '../common/log.js'
import type { NamespacePolicyPatch, PolicyRegistry } from '../gateway/index.js'

export interface PolicySource {
  readonly name: string
  /** Every namespace the source holds, with its policy fields. */
  snapshot: () => ReadonlyMap<string, NamespacePolicyPatch>
  onChange: (listener: () => void) => () => void
}

/** Apply a source to a registry now and on each change; returns a stop function. */
export function followPolicySource (registry: PolicyRegistry, source: PolicySource, logger: Logger): () => void {
  const applied = new Map<string, string>()
  let chain: Promise<void> = Promise.resolve()
  const sync = (): void => {
    chain = chain.then(async () => {
      for (const [ns, patch] of source.snapshot()) {
        const json = JSON.stringify(patch)
        if (applied.get(ns) === json && registry.has(ns)) continue
        try {
          await registry.put(ns, patch)
          applied.set(ns, json)
          logger.info({ namespace: ns, source: source.name }, 'namespace policy applied')
        } catch (err) {
          applied.set(ns, json) // do not retry a refused change on every event
          logger.warn({ namespace: ns, source: source.name, err: String(err) }, 'namespace policy from source refused')
        }
      }
    })
  }
  const stop = source.onChange(sync)
  sync()
  return stop
}
