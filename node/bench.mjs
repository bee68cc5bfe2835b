// Per-call overhead of `classify` (sync) through the napi boundary; target <= 2 µs per call.
//
//   node bench.mjs                     # the addon `npm run build` produced (debug profile)
//   npm run build:release && node bench.mjs
//   NAPI_RS_NATIVE_LIBRARY_PATH=/path/to/incident-core.linux-x64-gnu.node node bench.mjs
//
// Prints ns/call for: a no-op export (`version`, the boundary alone), raw native `classify` and the
// package's `classify` (with the thin error-mapping layer), for a small and a full facts object.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const native = require('./native/index.js')
const pkg = require('./lib/index.cjs')

const small = { outage: 'partial', customerFacingErrors: true }
const full = {
  outage: 'complete', dataLossOrCorruption: true, securityBreach: false, revenueImpact: true,
  performanceDegradationPct: 60, keyFeatureUnavailable: true, customerFacingErrors: true,
  nonCustomerFacingErrors: false, minorFeatureIssue: false, cosmetic: false, documentation: false,
  improvement: false, service: 'ml-inference-api', customerFacing: true, customersAffected: true,
}

function bench(name, fn, iterations) {
  for (let i = 0; i < 20_000; i++) fn() // warm up
  const runs = []
  for (let r = 0; r < 5; r++) {
    const t = process.hrtime.bigint()
    for (let i = 0; i < iterations; i++) fn()
    runs.push(Number(process.hrtime.bigint() - t) / iterations)
  }
  runs.sort((a, b) => a - b)
  const median = runs[2]
  console.log(`${name.padEnd(40)} ${median.toFixed(0).padStart(6)} ns/call (best ${runs[0].toFixed(0)}, 5 runs x ${iterations})`)
  return median
}

const n = Number(process.env.BENCH_ITERATIONS ?? 200_000)
console.log(`node ${process.version}, ${process.arch}`)
bench('version() (boundary only)', () => native.version(), n)
bench('native classify(small)', () => native.classify(small), n)
const wrappedSmall = bench('classify(small) [package]', () => pkg.classify(small), n)
bench('native classify(full)', () => native.classify(full), n)
const wrappedFull = bench('classify(full) [package]', () => pkg.classify(full), n)
const worst = Math.max(wrappedSmall, wrappedFull)
console.log(`target <= 2000 ns/call: ${worst <= 2000 ? 'met' : 'NOT met'} (worst ${worst.toFixed(0)} ns)`)
