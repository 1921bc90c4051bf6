/**
 * A gateway process for the QoS 2 crash test: starts a dev gateway on the
 * data dir in argv[2] (plain MQTT on a free port, printed as `PORT n`) and
 * SIGKILLs itself right after the append of a publish to a topic ending in
 * `/crash` resolves (through publish or publishTo): the message is durable,
 * PUBREC never goes out.
 */
import { startGateway } from '../../gateway/server.js'
import type { PublishRequest, PublishSink } from '../../gateway/dispatch/index.js'

const dataDir = process.argv[2] as string
const gw = await startGateway({ siteId: 'crash', dataDir, dev: true, host: '127.0.0.1', mqttPort: 0 })
const dispatcher = gw.dispatcher
const publish = dispatcher.publish.bind(dispatcher)
dispatcher.publish = async (req: PublishRequest) => {
  const res = await publish(req)
  if (req.topic.endsWith('/crash')) process.kill(process.pid, 'SIGKILL')
  return res
}
// The guard above the dispatcher reaches either entry (its publish is the promise over publishTo): both kill.
const publishTo = dispatcher.publishTo.bind(dispatcher)
dispatcher.publishTo = (req: PublishRequest, sink: PublishSink) => {
  publishTo(req, {
    published (res) { if (req.topic.endsWith('/crash')) process.kill(process.pid, 'SIGKILL'); sink.published(res) },
    failed (err) { sink.failed(err) }
  })
}
process.stdout.write(`PORT ${gw.ports.mqtt ?? 0}\n`)
setInterval(() => {}, 1000)
