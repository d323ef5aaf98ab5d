import { SqlParser } from '/work/main/src/sandbox/index.ts';
const p = await SqlParser.create();
const sql = process.argv[2]!;
const { statements } = await p.parse(sql);
const strip = (v: any): any => Array.isArray(v) ? v.map(strip) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).filter(([k]) => !['query_location'].includes(k)).map(([k, x]) => [k, strip(x)])) : v;
const node = statements[0].node;
console.log(JSON.stringify(strip(node.select_list), null, 1).slice(0, 4000));
p.dispose();
