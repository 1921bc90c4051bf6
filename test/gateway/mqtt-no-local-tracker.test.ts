/**
 * NoLocalTracker (gateway/mqtt/session-no-local.ts): own publishes made while
 * the session has no No Local subscription are only counted (no per-topic
 * Map update per publish); a No Local subscription made while they are in
 * flight still never gets them [MQTT-3.8.3-3].
 */
import t from 'tap'
import { NoLocalTracker } from '../../gateway/mqtt/session-no-local.js'

t.test('mqtt no local - untracked own publishes hold a later No Local subscription\'s deliveries until they settle', async (t) => {
  let hasNoLocal = false
  const nl = new NoLocalTracker(() => hasNoLocal)
  const tracked = nl.started('ns/a')
  t.equal(tracked, false, 'no No Local subscription: not kept per topic')
  let retried = 0
  t.equal(nl.mustWait('ns/a', () => { retried++ }), true, 'an own publish is in flight (topic unknown to the tracker): hold')
  hasNoLocal = true // a No Local subscription arrives while the publish waits for the store
  t.equal(nl.mustWait('ns/b', () => { retried++ }), true, 'held on any topic while untracked publishes are in flight')
  nl.settled('ns/a', 7, tracked)
  t.equal(retried, 2, 'held deliveries retried once the publish settled')
  t.equal(nl.isOwn('ns/a', 7), true, 'its entry id is known as own (the subscription exists now)')
  t.equal(nl.mustWait('ns/a', () => { retried++ }), false, 'nothing in flight: no hold')
})

t.test('mqtt no local - tracked own publishes hold only their own topic', async (t) => {
  const nl = new NoLocalTracker(() => true)
  const tracked = nl.started('ns/a')
  t.equal(tracked, true)
  let retried = 0
  t.equal(nl.mustWait('ns/b', () => { retried++ }), false, 'another topic is not held')
  t.equal(nl.mustWait('ns/a', () => { retried++ }), true, 'the topic with an own publish in flight is held')
  nl.settled('ns/a', 3, tracked)
  t.equal(retried, 1)
  t.equal(nl.isOwn('ns/a', 3), true)
  t.equal(nl.isOwn('ns/a', 4), false)
})
