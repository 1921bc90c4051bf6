/**
 * AES-256-GCM keys for encryption at rest, kept in the PKI directory
 * (at-rest-keys.json, mode 0600). Every record names the key that sealed it,
 * so rotating adds a key and makes it current; old keys stay to read old
 * records. Losing a key makes its records unreadable: back the file up.
 */
import { randomBytes } from 'node:crypto'
import { AT_REST_KEY_BYTES, AT_REST_KEYS_MAX } from './constants.js'
import { PkiCode, pkiError } from './errors.js'
import { readJson, writeAtomic } from './files.js'
import type { PkiLayout } from './layout.js'

export interface AtRestKeys {
  /** Key id new records are sealed with. */
  current: string
  keys: ReadonlyMap<string, Buffer>
}

interface KeyFile { current: string, keys: Record<string, string> }

/** Key ids: short, so each record spends few bytes on them. */
const KEY_ID = /^[A-Za-z0-9_-]{1,16}$/

export async function loadAtRestKeys (l: PkiLayout): Promise<AtRestKeys | undefined> {
  const doc = await readJson<KeyFile | undefined>(l.atRestKeys, undefined)
  if (doc === undefined) return undefined
  const keys = new Map<string, Buffer>()
  for (const [id, b64] of Object.entries(doc.keys ?? {})) {
    const key = Buffer.from(String(b64), 'base64')
    if (!KEY_ID.test(id) || key.length !== AT_REST_KEY_BYTES) throw pkiError(PkiCode.FILE_INVALID, `${l.atRestKeys}: key ${id} is not a ${AT_REST_KEY_BYTES}-byte base64 key`)
    keys.set(id, key)
  }
  if (!keys.has(doc.current)) throw pkiError(PkiCode.FILE_INVALID, `${l.atRestKeys}: current key ${doc.current} is not in the file`)
  return { current: doc.current, keys }
}

async function save (l: PkiLayout, current: string, keys: ReadonlyMap<string, Buffer>): Promise<void> {
  const doc: KeyFile = { current, keys: Object.fromEntries([...keys].map(([id, k]) => [id, k.toString('base64')])) }
  await writeAtomic(l.atRestKeys, JSON.stringify(doc, null, 1) + '\n', 0o600)
}

export async function ensureAtRestKeys (l: PkiLayout): Promise<AtRestKeys> {
  const have = await loadAtRestKeys(l)
  if (have !== undefined) return have
  const keys = new Map([['k1', randomBytes(AT_REST_KEY_BYTES)]])
  await save(l, 'k1', keys)
  return { current: 'k1', keys }
}

/** Add a new key and make it current. Returns its id. */
export async function rotateAtRestKey (l: PkiLayout): Promise<string> {
  const have = await ensureAtRestKeys(l)
  if (have.keys.size >= AT_REST_KEYS_MAX) throw pkiError(PkiCode.FILE_INVALID, `${l.atRestKeys} holds ${AT_REST_KEYS_MAX} keys already`)
  let n = have.keys.size + 1
  while (have.keys.has(`k${n}`)) n++
  const id = `k${n}`
  const keys = new Map(have.keys)
  keys.set(id, randomBytes(AT_REST_KEY_BYTES))
  await save(l, id, keys)
  return id
}
