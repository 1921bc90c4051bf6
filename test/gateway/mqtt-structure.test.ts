/**
 * Structure rules of gateway/mqtt (issue 8 "One door"), checked on the
 * sources: no run-time import cycle between the connection and its handlers,
 * the dispatcher only through gateway/dispatch/index.ts, error codes declared
 * in errors.ts and mapped in the one table, no placeholder spec citations.
 */
import t from 'tap'
import { readdir, readFile } from 'node:fs/promises'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { FerryError } from '../../common/errors.js'
import { httpStatusOf } from '../../gateway/error-map.js'
import { MqttCode } from '../../gateway/mqtt/errors.js'

const mqttDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'gateway', 'mqtt')

async function sources (dir: string): Promise<Array<{ file: string, text: string }>> {
  const out: Array<{ file: string, text: string }> = []
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...await sources(p))
    else if (e.name.endsWith('.ts')) out.push({ file: p.slice(mqttDir.length + 1), text: await readFile(p, 'utf8') })
  }
  return out
}

t.test('mqtt structure - handlers import connection.ts for types only (no run-time cycle)', async (t) => {
  const bad = (await sources(join(mqttDir, 'handlers')))
    .filter(({ text }) => /^import (?!type )[^\n]*from '\.\.\/connection\.js'/m.test(text)).map(({ file }) => file)
  t.same(bad, [])
})

t.test('mqtt structure - the dispatcher only through gateway/dispatch/index.ts', async (t) => {
  const bad = (await sources(mqttDir)).filter(({ text }) => /from '\.\.\/(\.\.\/)?dispatch\/(?!index\.js')/.test(text)).map(({ file }) => file)
  t.same(bad, [])
})

t.test('mqtt structure - error codes declared in errors.ts and mapped; no placeholder citations', async (t) => {
  const files = await sources(mqttDir)
  t.same(files.filter(({ text }) => /FerryError\(\s*'E_/.test(text)).map(({ file }) => file), [], 'no raw code strings')
  for (const code of Object.values(MqttCode)) t.not(httpStatusOf(new FerryError(code, 'x')), 500, `${code} is in gateway/error-map.ts`)
  t.same(files.filter(({ text }) => /\[MQTT-[0-9.]+-\?/.test(text)).map(({ file }) => file), [], 'real clause numbers only')
})
