#!/usr/bin/env node
// Builds the web console: console/src (Preact + htm + uPlot) -> console/dist
// (index.html, console.js, console.css). Run by scripts/setup.sh; the gateway
// serves console/dist at /console. No CDN: everything is bundled here.
import { build } from 'esbuild'
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const dist = join(here, 'dist')
await mkdir(dist, { recursive: true })
await build({
  entryPoints: [join(here, 'src', 'main.js')],
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2020',
  outfile: join(dist, 'console.js'),
  logLevel: 'warning'
})
const uplotCss = await readFile(join(here, '..', 'node_modules', 'uplot', 'dist', 'uPlot.min.css'), 'utf8')
const ownCss = await readFile(join(here, 'src', 'console.css'), 'utf8')
await writeFile(join(dist, 'console.css'), uplotCss + '\n' + ownCss)
await copyFile(join(here, 'src', 'index.html'), join(dist, 'index.html'))
process.stderr.write(`console: built ${join(dist, 'console.js')}\n`)
