/** Which processes `ferry dev` takes for leftovers of an earlier run on the same DIR (cli/dev-leftovers.ts). */
import t from 'tap'
import { leftoverKind } from '../../cli/dev-leftovers.js'

t.test('dev-leftovers - etcd, nats-server and ferry dev sites naming DIR are leftovers; nothing else is', async (t) => {
  const dir = '/tmp/ferry-dev-x'
  t.equal(leftoverKind(['/usr/bin/etcd', '--name', 'ferry', '--data-dir', '/tmp/ferry-dev-x/etcd/data'], dir), 'etcd')
  t.equal(leftoverKind(['/usr/sbin/nats-server', '-c', '/tmp/ferry-dev-x/nats/nats-a.conf'], dir), 'nats-server')
  t.equal(leftoverKind(['/usr/bin/node', '/w/cli/ferry.js', 'site', '--dev', '--site', 'b', '--data', '/tmp/ferry-dev-x/sites/b'], dir), 'ferry site b')
  t.equal(leftoverKind(['/usr/bin/etcd', '--data-dir', '/tmp/ferry-dev-xy/etcd/data'], dir), undefined, 'a DIR that only starts with the same characters is another DIR')
  t.equal(leftoverKind(['tail', '-f', '/tmp/ferry-dev-x/logs/a.log'], dir), undefined, 'a user\'s own process reading DIR is left alone')
  t.equal(leftoverKind(['/usr/bin/node', '/w/cli/ferry.js', 'site', '--data', '/tmp/ferry-dev-x/sites/b'], dir), undefined, 'a site not started by ferry dev is left alone')
  t.equal(leftoverKind(['/usr/bin/etcd', '--data-dir=/tmp/ferry-dev-x/etcd'], dir), 'etcd', 'a --flag=DIR/... form counts')
})
