/** The package version and root directory, found by walking up from this file (works from sources and from dist/). */
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Directory levels searched upwards for package.json: common is 1 deep, dist/common 2 (5 leaves room for copies such as .build-test/ID/common). */
const ROOT_SEARCH_LEVELS_MAX = 5

function findRoot (): { root: string, version: string } {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < ROOT_SEARCH_LEVELS_MAX; i++) {
    const pkg = join(dir, 'package.json')
    if (existsSync(pkg)) {
      try {
        const doc = JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown, version?: unknown }
        if (doc.name === 'ferry' && typeof doc.version === 'string') return { root: dir, version: doc.version }
      } catch { /* not ours; keep looking */ }
    }
    dir = dirname(dir)
  }
  return { root: process.cwd(), version: '0.0.0-unknown' }
}

const found = findRoot()
export const FERRY_VERSION = found.version
export const FERRY_ROOT = found.root
