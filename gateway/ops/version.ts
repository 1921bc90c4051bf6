/** Where the built console lives: console/dist of the package (the package root comes from common/version.ts). */
import { join } from 'node:path'
import { FERRY_ROOT, FERRY_VERSION } from '../../common/version.js'

export { FERRY_ROOT, FERRY_VERSION }
export const CONSOLE_DIST_DIR = join(FERRY_ROOT, 'console', 'dist')
