import t from 'tap'
import { readFerryControls, orderingKeyOf, FerryProp } from '../../gateway/message-props.js'

const NOW = 1_700_000_000_000

t.test('message props - ferry controls are read from user properties', async (t) => {
  const props = readFerryControls([
    ['color', 'red'], [FerryProp.key, 'k1'], [FerryProp.priority, '9'], [FerryProp.delayMs, '500'],
    [FerryProp.ttlMs, '1000'], [FerryProp.producerId, 'p'], [FerryProp.producerSeq, '7'], [FerryProp.resultTopic, 'results']
  ], NOW)
  t.same(props, { key: 'k1', priority: 9, deliverAt: NOW + 500, expiresAt: NOW + 1000, producerId: 'p', producerSeq: 7, resultTopic: 'results' })
})

t.test('message props - deliver-at accepts epoch ms and ISO, and wins over delay', async (t) => {
  t.equal(readFerryControls([[FerryProp.deliverAt, String(NOW + 5)]], NOW).deliverAt, NOW + 5)
  t.equal(readFerryControls([[FerryProp.deliverAt, '2023-11-14T22:13:20.000Z']], NOW).deliverAt, Date.parse('2023-11-14T22:13:20.000Z'))
  t.equal(readFerryControls([[FerryProp.deliverAt, String(NOW + 5)], [FerryProp.delayMs, '99999']], NOW).deliverAt, NOW + 5)
  t.equal(readFerryControls([['Ferry-Key', 'upper']], NOW).key, 'upper', 'header names are case-insensitive')
})

t.test('message props - bad values are E_BAD_REQUEST', async (t) => {
  const bad: Array<[string, string]> = [
    [FerryProp.priority, '10'], [FerryProp.priority, 'high'], [FerryProp.delayMs, '-1'], [FerryProp.deliverAt, 'tomorrow'],
    [FerryProp.ttlMs, '0'], [FerryProp.key, 'x'.repeat(2000)], [FerryProp.deliverAt, String(NOW + 400 * 24 * 3600 * 1000)]
  ]
  for (const pair of bad) {
    t.throws(() => readFerryControls([pair], NOW), { code: 'E_BAD_REQUEST' }, pair[0])
  }
  t.throws(() => readFerryControls([[FerryProp.producerId, 'p']], NOW), { code: 'E_BAD_REQUEST' }, 'producer id without sequence')
})

t.test('message props - ordering key falls back to key, then topic', async (t) => {
  t.equal(orderingKeyOf('t', { orderingKey: 'o', key: 'k' }), 'o')
  t.equal(orderingKeyOf('t', { key: 'k' }), 'k')
  t.equal(orderingKeyOf('t', {}), 't')
})
