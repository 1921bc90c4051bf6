import t from 'tap'
import { LightHistogram, RecentQuantiles } from '../../gateway/ops/histogram.js'

t.test('ops histogram - buckets are cumulative in the exposition, quantiles pick the bucket bound, bounds must ascend', async (t) => {
  const h = new LightHistogram([0.001, 0.01, 0.1])
  for (const v of [0.0005, 0.005, 0.005, 0.05, 5]) h.observe(v)
  const s = h.samples('x')
  t.same(s.filter((x) => x.metricName === 'x_bucket').map((x) => [x.labels?.le, x.value]), [[0.001, 1], [0.01, 3], [0.1, 4], ['+Inf', 5]])
  t.equal(s.find((x) => x.metricName === 'x_count')?.value, 5)
  t.ok(Math.abs((s.find((x) => x.metricName === 'x_sum')?.value ?? 0) - 5.0605) < 1e-9)
  t.equal(h.quantile(0.5), 0.01)
  t.equal(h.quantile(0.99), Number.POSITIVE_INFINITY)
  t.throws(() => new LightHistogram([0.1, 0.01]))
  t.equal(new LightHistogram([1]).quantile(0.5), undefined, 'empty')
})

t.test('ops histogram - recent quantiles forget observations older than the window', async (t) => {
  const h = new LightHistogram([0.001, 0.01, 0.1, 1])
  const r = new RecentQuantiles(h, 10_000, 0)
  for (let i = 0; i < 10; i++) h.observe(0.5)
  t.equal(r.quantile(0.5, 1000), 1, 'slow observations at first')
  for (let s = 2; s <= 12; s++) r.quantile(0.5, s * 1000)
  for (let i = 0; i < 10; i++) h.observe(0.0005)
  t.equal(r.quantile(0.5, 13_000), 0.001, 'after the window only the fast ones count')
  t.equal(h.quantile(0.99), 1, 'the all-time histogram keeps both')
})
