// Calls to the admin API. The token (outside dev mode) comes from ?token= or
// localStorage and goes in the Authorization header; the live feed takes it
// as ?token= (browsers cannot set WebSocket headers).
const params = new URLSearchParams(location.search)
if (params.get('token')) localStorage.setItem('ferryToken', params.get('token'))
export const token = () => localStorage.getItem('ferryToken') || ''

export async function api (method, path, body) {
  const headers = {}
  if (token()) headers.authorization = `Bearer ${token()}`
  if (body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const doc = await res.json().catch(() => ({}))
  if (!res.ok) throw new Error(doc.error ? `${doc.error.code}: ${doc.error.message}` : `HTTP ${res.status}`)
  return doc
}

export const seg = encodeURIComponent

/** The live feed: calls onData with each overview snapshot; reconnects after a drop. */
export function live (onData, onState) {
  let stopped = false
  let ws
  const open = () => {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:'
    ws = new WebSocket(`${proto}//${location.host}/v1/admin/live${token() ? `?token=${seg(token())}` : ''}`)
    ws.onopen = () => onState(true)
    ws.onmessage = (ev) => { const m = JSON.parse(ev.data); if (m.type === 'overview') onData(m.data) }
    ws.onclose = () => { onState(false); if (!stopped) setTimeout(open, 2000) }
  }
  open()
  return () => { stopped = true; ws?.close() }
}
