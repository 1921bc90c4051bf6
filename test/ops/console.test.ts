import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import { startTestGateway } from '../helpers/gateway.js'
import { httpRequest, topicPath } from '../helpers/http.js'
import { waitFor } from '../helpers/wait.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

t.test('ops console - live rates move, a topic opens, a dead letter is replayed (headless Chromium)', async (t) => {
  await promisify(execFile)(process.execPath, [join(root, 'console', 'build.mjs')], { cwd: root })
  const gw = await startTestGateway(t, { namespaces: { 'acme/jobs': { maxRedeliveries: 0, redeliveryBackoffMs: [0] } } })
  const u = gw.urls.http
  // A dead letter to replay.
  await httpRequest(u, 'POST', `${topicPath('acme/jobs/work')}/messages`, { body: 'poison pill' })
  const got: string[] = []
  await waitFor(async () => {
    const r = await httpRequest(u, 'GET', `${topicPath('acme/jobs/work')}/subscriptions/w/messages?position=earliest&waitMs=1000`)
    got.push(...r.json.messages.map((m: { messageId: string }) => m.messageId))
    return got.length >= 1
  }, { timeoutMs: 30_000, what: 'pulled' })
  await httpRequest(u, 'POST', `${topicPath('acme/jobs/work')}/subscriptions/w/nack`, { body: JSON.stringify({ messageIds: got, reason: 'bad input' }) })
  await waitFor(async () => (await httpRequest(u, 'GET', '/v1/admin/namespaces/acme/jobs/dead-letters')).json.deadLetterTopics[0]?.pending === 1, { timeoutMs: 30_000, what: 'dead letter' })

  const browser: Browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] })
  t.teardown(async () => { await browser.close() })
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
  const errors: string[] = []
  page.on('pageerror', (e) => { errors.push(e.message) })

  // Traffic while the overview is open: the live rate must move above zero.
  let publishing = true
  const traffic = (async () => {
    let i = 0
    while (publishing) {
      await httpRequest(u, 'POST', `${topicPath('public/default/live/feed')}/messages`, { body: `tick ${i++}` }).catch(() => undefined)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  })()
  t.teardown(async () => { publishing = false; await traffic })
  await page.goto(`${u}/console`)
  await page.getByTestId('live').filter({ hasText: 'live' }).waitFor({ timeout: 30_000 })
  await waitFor(async () => Number(await page.getByTestId('rate-in').textContent()) > 0, { timeoutMs: 30_000, what: 'live publish rate above 0' })
  const total1 = Number(await page.getByTestId('published-total').textContent())
  await waitFor(async () => Number(await page.getByTestId('published-total').textContent()) > total1, { timeoutMs: 30_000, what: 'published total moves' })
  await page.waitForSelector('[data-testid=chart-rates] canvas', { timeout: 10_000 })
  await page.screenshot({ path: join(root, 'docs', 'console.png') })
  publishing = false
  await traffic

  // Open a topic from its namespace.
  await page.goto(`${u}/console#/ns/acme/jobs`)
  await page.getByTestId('topics').getByRole('link', { name: 'work', exact: true }).click()
  await page.getByTestId('topic-title').filter({ hasText: 'acme/jobs/work' }).waitFor({ timeout: 10_000 })
  await waitFor(async () => (await page.getByTestId('topic-stored').textContent()) === '1', { what: 'topic stats shown' })
  await page.getByTestId('topic-messages').filter({ hasText: 'poison pill' }).waitFor({ timeout: 10_000 })

  // Dead-letter browser: peek, then replay.
  await page.goto(`${u}/console#/ns/acme/jobs`)
  await page.getByTestId('dead-letters').getByRole('link', { name: 'work-w-DLQ' }).click()
  await page.getByTestId('dlq-messages').filter({ hasText: 'bad input' }).waitFor({ timeout: 10_000 })
  await page.getByTestId('replay').click()
  await page.getByTestId('replay-result').filter({ hasText: 'replayed 1 to work' }).waitFor({ timeout: 10_000 })
  const after = await httpRequest(u, 'GET', '/v1/admin/namespaces/acme/jobs/dead-letters')
  t.equal(after.json.deadLetterTopics[0].pending, 0, 'the dead letter was replayed')
  const topic = await httpRequest(u, 'GET', '/v1/admin/topics/acme/jobs/work')
  t.equal(topic.json.storedMessages, 2, 'the original topic holds the replayed copy')
  t.same(errors, [], 'no page errors')
})
