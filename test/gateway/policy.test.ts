import t from 'tap'
import { PolicyRegistry, validatePolicyPatch, DEFAULT_NAMESPACE_POLICY, splitTopicName } from '../../gateway/policy/index.js'

t.test('policy - validation accepts known fields and refuses bad ones', async (t) => {
  t.same(validatePolicyPatch({ maxRedeliveries: 3, redeliveryBackoffMs: [10, 20] }), { maxRedeliveries: 3, redeliveryBackoffMs: [10, 20] })
  const bad: unknown[] = [
    null, [], 'x', { durability: 'fast' }, { maxRedeliveries: -2 }, { maxRedeliveries: 1.5 },
    { redeliveryBackoffMs: [] }, { priorityWeights: [1, 2, 3] }, { nope: 1 }, { delayedDeliveryEnabled: 'yes' },
    { backlogPolicy: 'drop_everything' }
  ]
  for (const b of bad) {
    t.throws(() => validatePolicyPatch(b), { code: 'E_BAD_REQUEST' }, JSON.stringify(b))
  }
})

t.test('policy - registry seeds, unknown namespace is E_NOT_FOUND, put applies live', async (t) => {
  const reg = new PolicyRegistry({ 'acme/orders': { messageTtlMs: 60000 } })
  t.equal(reg.get('acme/orders').messageTtlMs, 60000)
  t.equal(reg.get('acme/orders').durability, DEFAULT_NAMESPACE_POLICY.durability)
  t.throws(() => reg.get('acme/nope'), { code: 'E_NOT_FOUND' })
  const seen: string[] = []
  reg.onChange((ns, p) => { seen.push(`${ns}:${p.maxRedeliveries}`) })
  await reg.put('acme/orders', { maxRedeliveries: 5 })
  await reg.put('acme/new', { durability: 'async' })
  t.same(seen, ['acme/orders:5', 'acme/new:-1'])
  t.equal(reg.forTopic('acme/orders/a/b').maxRedeliveries, 5)
  t.equal(reg.storePolicy('acme/new/x').durability, 'async')
  t.equal(reg.forTopic('other/ns/x'), DEFAULT_NAMESPACE_POLICY, 'unknown namespace falls back to defaults for the store')
  await t.rejects(reg.put('acme/orders', { durability: 'memory' }), { code: 'E_BAD_REQUEST' })
  await t.rejects(reg.put('bad name/x', {}), { code: 'E_BAD_REQUEST' })
})

t.test('policy - splitTopicName keeps slashes of the local part', async (t) => {
  t.same(splitTopicName('public/default//TopicA'), { namespace: 'public/default', local: '/TopicA' })
  t.same(splitTopicName('a/b/c/d'), { namespace: 'a/b', local: 'c/d' })
  t.throws(() => splitTopicName('a/b'))
  t.throws(() => splitTopicName('/b/c'))
})
