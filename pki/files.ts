/** Small file helpers of the PKI: bounded reads, atomic writes (temp file + rename), existence checks. */
import { randomBytes } from 'node:crypto'
import { mkdir, open, rename, stat, readFile, unlink, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { PKI_FILE_BYTES_MAX } from './constants.js'
import { PkiCode, pkiError } from './errors.js'

export async function exists (file: string): Promise<boolean> {
  try { await stat(file); return true } catch { return false }
}

/** A PKI directory must exist and hold a CA (`ferry pki init` made it). */
export async function requirePkiDir (dir: string, caCert: string): Promise<void> {
  let isDir = false
  try { isDir = (await stat(dir)).isDirectory() } catch { isDir = false }
  if (!isDir) throw pkiError(PkiCode.DIR_MISSING, `PKI directory ${dir} does not exist: run \`ferry pki init --dir ${dir}\` first`)
  if (!(await exists(caCert))) throw pkiError(PkiCode.DIR_MISSING, `${dir} holds no CA (${caCert} missing): run \`ferry pki init --dir ${dir}\``)
}

export async function readText (file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8')
  } catch (err) {
    throw pkiError(PkiCode.DIR_MISSING, `cannot read ${file}: ${(err as Error).message}`, err)
  }
}

/** Read a JSON file of the PKI dir; `fallback` when it does not exist. */
export async function readJson<T> (file: string, fallback: T): Promise<T> {
  let text: string
  try {
    const st = await stat(file)
    if (st.size > PKI_FILE_BYTES_MAX) throw pkiError(PkiCode.FILE_INVALID, `${file} is larger than ${PKI_FILE_BYTES_MAX} bytes`)
    text = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return fallback
    throw err
  }
  try {
    return JSON.parse(text) as T
  } catch (err) {
    throw pkiError(PkiCode.FILE_INVALID, `${file} is not valid JSON (${(err as Error).message}); restore it from a backup`, err)
  }
}

/**
 * Write a file so readers see the old or the new content, never a torn one:
 * temp file in the same directory, fsync, rename. Gateways watching the file
 * (revocation list) therefore never read half a list.
 */
export async function writeAtomic (file: string, data: string, mode = 0o644): Promise<void> {
  await mkdir(dirname(file), { recursive: true })
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`
  const fh = await open(tmp, 'w', mode)
  try {
    await fh.writeFile(data)
    await fh.sync()
  } finally {
    await fh.close()
  }
  await rename(tmp, file)
}

/** Create a new file, failing if it exists (flag wx). */
export async function writeNew (file: string, data: string, mode = 0o644): Promise<void> {
  await mkdir(dirname(file), { recursive: true })
  await writeFile(file, data, { mode, flag: 'wx' })
}

/** Longest wait for the PKI dir's lock, ms: another `ferry pki` command holds it for milliseconds. */
const LOCK_WAIT_MS_MAX = 10_000
/** A lock older than this is left over from a killed command and is broken, ms. */
const LOCK_STALE_MS = 30_000
/** Pause between attempts to take the lock, ms. */
const LOCK_RETRY_MS = 20

/**
 * Run `fn` holding DIR/.lock (created with O_EXCL): read-modify-write of
 * issued.json and revoked.json by concurrent `ferry pki` commands must not
 * lose entries (a token missing from issued.json could not be revoked).
 */
export async function withDirLock<T> (dir: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${dir}/.lock`
  const deadline = Date.now() + LOCK_WAIT_MS_MAX
  for (;;) {
    try {
      const fh = await open(lock, 'wx', 0o600)
      await fh.close()
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const st = await stat(lock).catch(() => undefined)
      if (st !== undefined && Date.now() - st.mtimeMs > LOCK_STALE_MS) { await unlink(lock).catch(() => undefined); continue }
      if (Date.now() > deadline) throw pkiError(PkiCode.FILE_INVALID, `${lock} is held by another ferry pki command; remove it if none is running`)
      await new Promise((resolve) => setTimeout(resolve, LOCK_RETRY_MS))
    }
  }
  try { return await fn() } finally { await unlink(lock).catch(() => undefined) }
}
