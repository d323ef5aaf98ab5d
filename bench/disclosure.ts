/**
 * Disclosure bench (issue 8): the time of every check on a 10,000-row aggregate output (min units,
 * secondary suppression, dominance, rounding, identifier scan, row cap, fingerprint), against a
 * same-run baseline of one pass that only copies the rows; and the throughput of the exact noise
 * samplers (draws per second).
 * Usage: npm run bench:disclosure
 */
import os from 'node:os';
import { applyDisclosureControl, discreteGaussian, discreteLaplace, rational } from '../src/disclosure/index.ts';
import { percentiles } from './sandbox.ts';

const ROWS = 10_000;
const units = '__pds_units_bench';
const columns = [
  { name: 'district', type: 'VARCHAR' },
  { name: 'education', type: 'VARCHAR' },
  { name: 'n', type: 'BIGINT' },
  { name: 'capital', type: 'DOUBLE' },
  { name: units, type: 'BIGINT' },
  { name: `${units}_dt3`, type: 'DOUBLE' },
  { name: `${units}_dm3`, type: 'DOUBLE[]' },
];
const rows = Array.from({ length: ROWS }, (_, i) => {
  const n = 1 + ((i * 7919) % 200);
  const top = [1000 + (i % 97) * 10, 500 + (i % 13) * 7];
  const total = top[0]! + top[1]! + n * 20;
  return [`区${i % 100}`, `学历${Math.floor(i / 100)}`, n, total, n, total, top];
});
const result = { columns, rows };
const options = {
  unitsColumn: units,
  minUnits: 10,
  maxRows: 100_000,
  countColumns: [2],
  keyColumns: [0, 1],
  roundCountsTo: 5,
  dominance: {
    columns: [{ column: 3, total: `${units}_dt3`, top: `${units}_dm3`, basis: 'units' as const }],
    n: 2,
    k: 85,
  },
};

const time = (fn: () => void) => {
  const t = performance.now();
  fn();
  return performance.now() - t;
};
const checks: number[] = [];
const baseline: number[] = [];
for (let i = 0; i < 15; i++) {
  checks.push(time(() => applyDisclosureControl(result, options)));
  baseline.push(
    time(() => {
      const copy = rows.map((r) => [...r]);
      if (copy.length !== ROWS) throw new Error('copy');
    }),
  );
}
const dc = applyDisclosureControl(result, options);

function throughput(draw: () => bigint, seconds = 2): number {
  let n = 0;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 100; i++) draw();
    n += 100;
  }
  return Math.round(n / seconds);
}

console.log(
  JSON.stringify(
    {
      machine: { cpus: os.cpus().length, node: process.version },
      checks: {
        rows: ROWS,
        runs: checks.length,
        ms: percentiles(checks),
        baselineCopyMs: percentiles(baseline),
        ratio: +(percentiles(checks).p50 / percentiles(baseline).p50).toFixed(1),
        applied: dc.checks.map((c) => c.check),
        released: dc.rows.length,
        cellsSuppressed: dc.cellsSuppressed,
      },
      samplersPerSecond: {
        discreteLaplaceScale1: throughput(() => discreteLaplace(1n, 1n)),
        discreteLaplaceScale10: throughput(() => discreteLaplace(1n, 10n)),
        discreteGaussianSigma2_4: throughput(() => discreteGaussian(rational(4))),
        discreteGaussianSigma2_100: throughput(() => discreteGaussian(rational(100))),
      },
    },
    null,
    2,
  ),
);
