import { privacyWorld, isTarget, cell } from '../test/privacy/world.ts';
const w = await privacyWorld();
for (const t of w.targets) {
  const d = `district = '${t.district}'`;
  const a = cell(await w.ask(`SELECT sum(income) AS s FROM population WHERE ${d}`), 's')!;
  const b = cell(await w.ask(`SELECT sum(income) AS s FROM population WHERE ${d} AND NOT ${isTarget(t)}`), 's')!;
  console.log(t.income, a - b, ((a - b) / t.income - 1).toFixed(3));
}
w.close();
