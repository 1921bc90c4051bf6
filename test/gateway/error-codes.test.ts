/**
 * Every FerryError code in the sources is declared in a folder's errors.ts
 * and mapped in the one table (gateway/error-map.ts). A code missing from
 * the table would answer 500 / 0x80 with no one noticing; this test notices.
 */
import t from 'tap'
import { readdir, readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { dirname, join, relative } from 'node:path'
import { httpStatusOf, isMappedErrorCode, mqttReasonOf, mappedErrorCodes } from '../../gateway/index.js'
import { FerryError } from '../../common/errors.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
/** Source folders (tsconfig.json's include). */
const FOLDERS = ['common', 'store', 'gateway', 'replicator', 'topology', 'pki', 'loadtest', 'cli']
const CODE = /['"`](E_[A-Z0-9_]+)['"`]/g

async function sourceFiles (dir: string): Promise<string[]> {
  let entries
  try { entries = await readdir(dir, { withFileTypes: true }) } catch { return [] }
  const out: string[] = []
  for (const e of entries) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...await sourceFiles(p))
    else if (e.name.endsWith('.ts')) out.push(p)
  }
  return out
}

const used = new Map<string, Set<string>>() // code → files
const declared = new Set<string>()
for (const folder of FOLDERS) {
  for (const file of await sourceFiles(join(root, folder))) {
    const rel = relative(root, file)
    if (rel === join('gateway', 'error-map.ts')) continue // the table itself
    const text = await readFile(file, 'utf8')
    for (const m of text.matchAll(CODE)) {
      const code = m[1] as string
      if (!used.has(code)) used.set(code, new Set())
      used.get(code)?.add(rel)
      if (file.endsWith(`${'/'}errors.ts`)) declared.add(code)
    }
  }
}

t.test('error codes - the scan finds the codes of every folder', async (t) => {
  for (const code of ['E_BAD_REQUEST', 'E_DISK_FULL', 'E_SUBSCRIPTION_BUSY', 'E_METHOD_NOT_ALLOWED', 'E_CONFIG', 'E_LISTEN', 'E_UWS_NATIVE_MISSING', 'E_HTTP']) {
    t.ok(used.has(code), `${code} seen`)
  }
})

t.test('error codes - every code in the sources is mapped to an HTTP status and an MQTT reason', async (t) => {
  for (const [code, files] of used) {
    t.ok(isMappedErrorCode(code), `${code} (${[...files].join(', ')}) is in gateway/error-map.ts`)
  }
})

t.test('error codes - every code in the sources is declared in a folder errors.ts', async (t) => {
  for (const [code, files] of used) {
    t.ok(declared.has(code), `${code} (${[...files].join(', ')}) is declared in an errors.ts`)
  }
})

t.test('error codes - mapped codes answer their own status, not the 500 / 0x80 fallback by accident', async (t) => {
  t.equal(httpStatusOf(new FerryError('E_CONFIG', 'x')), 500)
  t.equal(httpStatusOf(new FerryError('E_LISTEN', 'x')), 503)
  t.equal(httpStatusOf(new FerryError('E_UWS_NATIVE_MISSING', 'x')), 503)
  t.equal(httpStatusOf(new FerryError('E_TOPIC_INVALID', 'x')), 400)
  t.equal(mqttReasonOf(new FerryError('E_TOPIC_INVALID', 'x')), 0x90)
  t.equal(httpStatusOf(new FerryError('E_NOT_A_CODE', 'x')), 500, 'unknown codes still fall back')
  for (const code of mappedErrorCodes()) t.match(code, /^E_[A-Z0-9_]+$/, `${code} is a well-formed code`)
})
