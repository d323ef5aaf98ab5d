import { seedDomain } from './src/domain/index.ts';
import { openInstance, withConnection, queryRows } from './src/store/index.ts';
const rows = Number(process.argv[2] ?? 100000);
const t = Date.now(); const lap = () => Date.now() - t;
const v = await seedDomain('/tmp/pds-t9', { rows, onStep: (s, i, n) => console.log(`[${i + 1}/${n}] ${s} ${Date.now() - t} ms`) });
console.log(Object.fromEntries(Object.entries(v).map(([k, x]) => [k, [x.rows, x.version, x.contentHash.slice(0, 8)]])), Date.now() - t, 'ms');
if (rows <= 200000) {
const inst = await openInstance('/tmp/pds-t9/domain.duckdb');
await withConnection(inst, async (c) => {
  for (const tb of ['population','enterprise','social_insurance','medical_visit','utility_usage']) console.log(tb, (await queryRows(c, `select * from ${tb} limit 2`)));
  console.log(await queryRows(c, `select count(*) n, count(distinct id_number) d from population`));
  console.log(await queryRows(c, `select icd10, count(*) n from medical_visit group by 1 order by 2 limit 5`));
});
}
