/**
 * Metadata spaces are declared once (store MetaSpace) with one owner each:
 * no writer outside store/ names a space with a raw string, and the stored
 * names are distinct.
 */
import t from 'tap'
import { readdir, readFile } from 'node:fs/promises'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { MetaSpace } from '../../store/index.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

async function sources (dir: string): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...await sources(p))
    else if (e.name.endsWith('.ts')) out.push(p)
  }
  return out
}

t.test('store - meta spaces - distinct stored names', async (t) => {
  const values = Object.values(MetaSpace)
  t.equal(new Set(values).size, values.length, 'no two spaces share a name')
  t.same(MetaSpace, { mqttSession: 'mqtt-session', mqttQos2In: 'mqtt-qos2-in', retained: 'retained', subscription: 'subscription', namespacePolicy: 'namespace-policy', replCursor: 'repl-cursor' }, 'stored names never change (they are data)')
})

t.test('store - meta spaces - writers outside store name spaces through MetaSpace, never a raw string', async (t) => {
  const raw: string[] = []
  for (const dir of ['gateway', 'cli', 'replicator', 'topology']) {
    const files = await sources(join(root, dir)).catch(() => [])
    for (const f of files) {
      const text = await readFile(f, 'utf8')
      for (const m of text.matchAll(/putMeta\(\s*['"`]([^'"`]*)['"`]/g)) raw.push(`${f.slice(root.length + 1)}: putMeta('${m[1] ?? ''}')`)
      for (const m of text.matchAll(/\bspace:\s*['"`]([^'"`]*)['"`]/g)) raw.push(`${f.slice(root.length + 1)}: space: '${m[1] ?? ''}'`)
    }
  }
  t.same(raw, [], 'no raw space names')
})
