import t from 'tap'
import { createMemoryLedger } from '../../store/index.js'
import { runConformance } from './conformance.js'

runConformance(t, 'memory', {
  create: async (opts) => createMemoryLedger({ siteId: 'test', ...opts })
})
