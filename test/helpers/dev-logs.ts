/** The site logs of a `ferry dev` DIR (DIR/logs/*.log, each's last part) for a failed start's message: the cause is in them. */
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'

/** Per log, how much of its end goes into a message. */
const SITE_LOG_TAIL_CHARS = 3_000

export async function siteLogs (dir: string): Promise<string> {
  const files = await readdir(join(dir, 'logs')).catch(() => [] as string[])
  const parts = await Promise.all(files.map(async (f) => `--- ${f}\n${(await readFile(join(dir, 'logs', f), 'utf8').catch(() => '')).slice(-SITE_LOG_TAIL_CHARS)}`))
  return parts.join('\n')
}
