// Count test points from tap's TAP output (every nesting level's leaves), and
// print `N passed, M failed`. Exit non-zero when tap failed or nothing ran.
import { readFileSync } from 'node:fs'
const [file, rcText] = process.argv.slice(2)
const lines = readFileSync(file, 'utf8').split('\n')
// A leaf test point is an `ok`/`not ok` line not immediately preceded by its subtest's plan-closing block.
// tap prints a parent's ok line after its children; count only points whose description
// is not a subtest summary: subtest summaries are preceded by a `# Subtest:` block, which we track by indentation.
let passed = 0; let failed = 0
const subtestIndents = []
for (const line of lines) {
  const sub = /^(\s*)# Subtest: /.exec(line)
  if (sub) { subtestIndents.push(sub[1].length); continue }
  const m = /^(\s*)(not ok|ok) \d+/.exec(line)
  if (!m) continue
  const indent = m[1].length
  if (subtestIndents.length > 0 && subtestIndents[subtestIndents.length - 1] === indent) {
    subtestIndents.pop() // the summary line of a subtest, not a leaf
    continue
  }
  if (/# SKIP|# TODO/i.test(line)) { failed++; continue } // skipped/todo is not allowed here
  if (m[2] === 'ok') passed++; else failed++
}
const rc = Number(rcText)
console.log(`${passed} passed, ${failed} failed`)
process.exit(rc !== 0 ? rc : (passed === 0 ? 1 : 0))
