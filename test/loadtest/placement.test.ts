/**
 * bench:peers' placement (loadtest/peers/placement.ts, generator.ts): the system under test runs on the CPUs the
 * placement names, the generator runs in its own process and still checks every message, and a placement that
 * gives a CPU to both sides is refused.
 */
import t from 'tap'
import { cpus } from 'node:os'
import { startNullBroker } from '../../loadtest/peers/null-broker.js'
import { startPeer } from '../../loadtest/peers/launch.js'
import { runLeanInChild } from '../../loadtest/peers/generator.js'
import { allowedCpus, cpuListMembers, describePlacement, pinnedCommand, splitPlacement, SHARED_PLACEMENT } from '../../loadtest/peers/placement.js'
import { portOf } from '../helpers/fake-mqtt-broker.js'

t.test('loadtest - placement: CPU lists are read as taskset reads them, and the two sides may not share a CPU', async (t) => {
  t.same([...cpuListMembers('0')], [0])
  t.same([...cpuListMembers('0,2-4')], [0, 2, 3, 4])
  t.throws(() => cpuListMembers('one'), /not a CPU list/)
  t.throws(() => splitPlacement('0-1', '1'), /CPU 1 is given to both/)
  const p = splitPlacement()
  t.equal(p.generatorCpus, '0')
  t.equal(p.systemCpus, '1')
  t.match(describePlacement(p), /system under test on CPU 1, generator in its own process on CPU 0/)
  t.match(describePlacement(SHARED_PLACEMENT), /shared/)
  t.same(pinnedCommand('1', 'mosquitto', ['-c', 'x']), { command: 'taskset', args: ['-c', '1', 'mosquitto', '-c', 'x'] })
  t.same(pinnedCommand(undefined, 'mosquitto', ['-c', 'x']), { command: 'mosquitto', args: ['-c', 'x'] }, 'shared: run as is')
})

t.test('loadtest - placement: a system started on a CPU list is allowed only those CPUs (native and Node-hosted)', async (t) => {
  // The last CPU: present on every host, one CPU or many.
  const cpu = String(cpus().length - 1)
  for (const name of ['mosquitto', 'null'] as const) {
    const peer = await startPeer(name, cpu)
    try {
      t.equal(allowedCpus(peer.pid), cpu, `${name} pinned to CPU ${cpu}`)
    } finally {
      await peer.stop()
    }
  }
})

t.test('loadtest - placement: the generator in its own pinned process checks every message and reports its window', async (t) => {
  const server = await startNullBroker(0)
  t.teardown(() => { server.close() })
  const seen: string[] = []
  const r = await runLeanInChild({ url: `mqtt://127.0.0.1:${portOf(server)}`, publishers: 2, subscribers: 1, qos: 1, payloadBytes: 64, windowPerPublisher: 16, topicsPerPublisher: 1, seconds: 1, warmupSeconds: 0.2, openLoopRatePerSec: 1_000 }, '0', {
    measuring: () => { seen.push('measuring') },
    measured: () => { seen.push('measured') }
  })
  t.ok(r.ok, r.problems.join('; '))
  t.ok(r.published > 0, 'published')
  t.equal(r.delivered, r.published, 'every message delivered once')
  t.equal(r.lost, 0)
  t.equal(r.duplicates, 0)
  t.same(seen, ['measuring', 'measured'], 'the measured window opened, then closed')
  t.ok(r.timing.generatorLoopDelay.max > 0, 'its own loop delay measured in its own process')
})

t.test('loadtest - placement: a generator process that cannot run fails the run with its reason', async (t) => {
  await t.rejects(runLeanInChild({ url: 'mqtt://127.0.0.1:1', publishers: 1, subscribers: 1, qos: 1, payloadBytes: 64, windowPerPublisher: 1, topicsPerPublisher: 1, seconds: 1 }, undefined), /generator process exited/)
})
