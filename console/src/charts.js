// A uPlot line chart fed one point per live snapshot (bounded history).
import { html } from 'htm/preact'
import { useEffect, useRef } from 'preact/hooks'
import uPlot from 'uplot'

/** Points kept per chart: ten minutes at one snapshot per second. */
export const CHART_POINTS_MAX = 600

export function Chart ({ title, series, data, testid }) {
  const el = useRef(null)
  const plot = useRef(null)
  useEffect(() => {
    const opts = {
      width: Math.max(360, (el.current?.clientWidth ?? 480) - 10),
      height: 200,
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2 }))],
      axes: [{ stroke: '#8aa0b6', grid: { stroke: '#263545' } }, { stroke: '#8aa0b6', grid: { stroke: '#263545' } }]
    }
    plot.current = new uPlot(opts, data, el.current)
    return () => plot.current?.destroy()
  }, [])
  useEffect(() => { plot.current?.setData(data) }, [data])
  return html`<div class="chart" data-testid=${testid}><h3>${title}</h3><div ref=${el}></div></div>`
}
