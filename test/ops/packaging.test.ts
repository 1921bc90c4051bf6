import t from 'tap'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { loadSiteConfig } from '../../gateway/config.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

t.test('ops packaging - the sample site.json is a valid config; the image runs as non-root with a data volume; the unit reloads on SIGHUP', async (t) => {
  const cfg = await loadSiteConfig(join(root, 'packaging', 'site.json'))
  t.equal(cfg.siteId, 'eu-west-1')
  t.same(cfg.listeners, { mqtts: 8883, https: 8443 })
  t.equal(cfg.namespaces?.['acme/telemetry']?.topicMetricsEnabled, true)
  const docker = await readFile(join(root, 'packaging', 'Dockerfile'), 'utf8')
  t.ok((docker.match(/^FROM /gm) ?? []).length >= 2, 'multi-stage')
  t.match(docker, /^USER ferry$/m, 'non-root')
  t.match(docker, /^VOLUME \["\/var\/lib\/ferry"\]$/m, 'data volume')
  t.match(docker, /console\/build\.mjs/, 'the console is built into the image')
  const unit = await readFile(join(root, 'packaging', 'ferry.service'), 'utf8')
  t.match(unit, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m)
  t.match(unit, /^User=ferry$/m)
})
