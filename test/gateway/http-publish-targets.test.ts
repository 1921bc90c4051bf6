/**
 * Unit tests of the publish path cache (gateway/http/publish-targets.ts)
 * through HttpCore.plan: credentials are checked on every request of a cached
 * path, the cache is bounded, and a registry change is seen at once.
 */
import t from 'tap'
import { FerryError } from '../../common/errors.js'
import { silentLogger } from '../../common/log.js'
import { HttpCore } from '../../gateway/http/api.js'
import { PUBLISH_TARGET_PATH_CHARS_MAX, PUBLISH_TARGETS_CACHED_MAX } from '../../gateway/http/constants.js'
import type { RequestHead } from '../../gateway/http/request.js'
import type { HttpGuard } from '../../gateway/auth/index.js'
import { PolicyRegistry } from '../../gateway/policy/index.js'

function head (path: string, headers: Array<readonly [string, string]> = []): RequestHead {
  return { method: 'POST', path, query: '', headers, remoteAddress: '127.0.0.1' }
}

function core (guard?: HttpGuard): { core: HttpCore, policies: PolicyRegistry } {
  const policies = new PolicyRegistry({ 'public/default': {} })
  const c = new HttpCore({ dispatcher: {} as never, ledger: {} as never, policies, siteId: 'u', dev: true, logger: silentLogger, ...(guard !== undefined ? { guard } : {}) })
  return { core: c, policies }
}

t.test('publish targets - the guard sees every request of a cached path, before the namespace is looked up', async (t) => {
  const seen: string[] = []
  const guard: HttpGuard = {
    preflight: () => undefined,
    responseHeaders: () => [],
    check: (req, route) => {
      seen.push(`${route.kind} ${route.tenant ?? ''}/${route.namespace ?? ''} ${route.local ?? ''}`)
      if (req.headers.some(([n]) => n === 'authorization')) throw new FerryError('E_FORBIDDEN', 'no')
      return undefined
    },
    errorHeaders: () => [],
    principalOf: () => undefined
  }
  const { core: c } = core(guard)
  const path = '/v1/topics/public/default/a/b/messages'
  c.plan(head(path))
  c.plan(head(path))
  t.throws(() => c.plan(head(path, [['authorization', 'Bearer x']])), { code: 'E_FORBIDDEN' }, 'refused on a cached path too')
  t.same(seen, ['publish public/default a/b', 'publish public/default a/b', 'publish public/default a/b'])
  // Unknown namespace: the guard runs first, then 404 (never cached).
  t.throws(() => c.plan(head('/v1/topics/other/ns/t/messages', [['authorization', 'Bearer x']])), { code: 'E_FORBIDDEN' })
  t.throws(() => c.plan(head('/v1/topics/other/ns/t/messages')), { code: 'E_NOT_FOUND' })
  t.throws(() => c.plan(head('/v1/topics/other/ns/t/messages')), { code: 'E_NOT_FOUND' })
  t.equal(c.publishTargets.size, 1, 'only the resolved path is kept')
})

t.test('publish targets - bounded, long paths not kept, body bound follows the policy', async (t) => {
  const { core: c, policies } = core()
  for (let i = 0; i < PUBLISH_TARGETS_CACHED_MAX + 10; i++) c.plan(head(`/v1/topics/public/default/t${i}/messages`))
  t.equal(c.publishTargets.size, PUBLISH_TARGETS_CACHED_MAX, 'at most PUBLISH_TARGETS_CACHED_MAX paths')
  const long = `/v1/topics/public/default/${'x'.repeat(PUBLISH_TARGET_PATH_CHARS_MAX)}/messages`
  c.plan(head(long))
  t.equal(c.publishTargets.cached(long), undefined, 'a long path is parsed every time, not kept')

  const path = '/v1/topics/public/default/bound/messages'
  t.equal(c.plan(head(path)).bodyBytesMax, 1024 * 1024, 'the default maxMessageBytes (1 MiB) under maxBodyBytes')
  await policies.put('public/default', { maxMessageBytes: 100 })
  const p = c.plan(head(path))
  t.equal(p.bodyBytesMax, 100, 'a policy change is seen on the next plan of a cached path')
  t.match(p.tooLarge(), { code: 'E_TOO_LARGE', message: "message larger than the namespace's maxMessageBytes (100)" })
  await policies.delete('public/default')
  t.throws(() => c.plan(head(path)), { code: 'E_NOT_FOUND' }, 'a deleted namespace answers 404')
  t.equal(c.publishTargets.cached(path), undefined, 'and leaves the cache')
})

t.test('publish targets - a registry without a generation (a fake) is never cached', async (t) => {
  const real = new PolicyRegistry({ 'public/default': {} })
  const fake = { get: (ns: string) => real.get(ns) } as unknown as PolicyRegistry
  const c = new HttpCore({ dispatcher: {} as never, ledger: {} as never, policies: fake, siteId: 'u', dev: true, logger: silentLogger })
  c.plan(head('/v1/topics/public/default/a/messages'))
  t.equal(c.publishTargets.size, 0)
})
