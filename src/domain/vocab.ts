/**
 * Vocabularies and weights of the synthetic domain (a city modelled on Guiyang). Weights are
 * relative; small weights are on purpose: rare categories make the small cells and dominant
 * contributors that disclosure control must handle.
 */

export type Weighted = ReadonlyArray<readonly [string, number]>;

/** Districts with GB/T 2260 division codes and population shares (very unequal on purpose). */
export const DISTRICTS: ReadonlyArray<{ code: string; name: string; weight: number }> = [
  { code: '520103', name: '云岩区', weight: 20 },
  { code: '520102', name: '南明区', weight: 19 },
  { code: '520115', name: '观山湖区', weight: 14 },
  { code: '520111', name: '花溪区', weight: 12 },
  { code: '520181', name: '清镇市', weight: 9 },
  { code: '520113', name: '白云区', weight: 8 },
  { code: '520112', name: '乌当区', weight: 7 },
  { code: '520123', name: '修文县', weight: 5 },
  { code: '520121', name: '开阳县', weight: 4 },
  { code: '520122', name: '息烽县', weight: 2 },
];

/** An ageing population pyramid: relative weight of each age 0..99. */
export const AGE_WEIGHTS: readonly number[] = Array.from({ length: 100 }, (_, age) => {
  if (age < 15) return 1.0;
  if (age < 30) return 1.1;
  if (age < 40) return 1.45;
  if (age < 60) return 1.35;
  if (age < 70) return 1.0;
  if (age < 80) return 0.55;
  if (age < 90) return 0.2;
  return 0.03;
});

export const ETHNICITIES: Weighted = [
  ['汉族', 740],
  ['苗族', 80],
  ['布依族', 70],
  ['侗族', 30],
  ['土家族', 25],
  ['彝族', 15],
  ['仡佬族', 12],
  ['水族', 10],
  ['回族', 8],
  ['白族', 4],
  ['瑶族', 2],
  ['壮族', 2],
  ['满族', 1],
  ['蒙古族', 1],
];
export const EDUCATION: Weighted = [
  ['小学', 22],
  ['初中', 33],
  ['高中', 17],
  ['大专', 12],
  ['本科', 13],
  ['硕士', 2.6],
  ['博士', 0.4],
];
export const RELIGION: Weighted = [
  ['无', 930],
  ['佛教', 40],
  ['基督教', 20],
  ['伊斯兰教', 8],
  ['道教', 2],
];
export const MOBILE_PREFIXES = [
  '130',
  '131',
  '132',
  '133',
  '135',
  '136',
  '137',
  '138',
  '139',
  '147',
  '150',
  '151',
  '152',
  '153',
  '155',
  '156',
  '157',
  '158',
  '159',
  '166',
  '173',
  '176',
  '177',
  '178',
  '180',
  '181',
  '182',
  '183',
  '185',
  '186',
  '187',
  '188',
  '189',
  '191',
  '198',
  '199',
];

/** GB/T 4754-2017 sections (门类) with rough shares of registered enterprises. */
export const INDUSTRIES: Weighted = [
  ['A 农、林、牧、渔业', 4],
  ['B 采矿业', 1],
  ['C 制造业', 12],
  ['D 电力、热力、燃气及水生产和供应业', 1],
  ['E 建筑业', 9],
  ['F 批发和零售业', 30],
  ['G 交通运输、仓储和邮政业', 4],
  ['H 住宿和餐饮业', 6],
  ['I 信息传输、软件和信息技术服务业', 6],
  ['J 金融业', 1],
  ['K 房地产业', 3],
  ['L 租赁和商务服务业', 10],
  ['M 科学研究和技术服务业', 5],
  ['N 水利、环境和公共设施管理业', 0.6],
  ['O 居民服务、修理和其他服务业', 3],
  ['P 教育', 1],
  ['Q 卫生和社会工作', 0.8],
  ['R 文化、体育和娱乐业', 2],
  ['S 公共管理、社会保障和社会组织', 0.1],
  ['T 国际组织', 0.01],
];
export const ENTERPRISE_STATUS: Weighted = [
  ['存续', 80],
  ['在业', 8],
  ['注销', 8],
  ['吊销', 4],
];

/** Hospitals: a few large ones take most visits; community centres make a long tail. */
export const HOSPITALS: Weighted = [
  ['贵州医科大学附属医院', 120],
  ['贵州省人民医院', 110],
  ['贵阳市第一人民医院', 70],
  ['贵阳市第二人民医院', 50],
  ['贵州中医药大学第一附属医院', 45],
  ['贵阳市妇幼保健院', 35],
  ['贵阳市第四人民医院', 25],
  ['贵阳市公共卫生救治中心', 6],
  ...DISTRICTS.flatMap((d) => [
    [`${d.name}人民医院`, 8 + d.weight] as const,
    [`${d.name}中医医院`, 3] as const,
    [`${d.name}社区卫生服务中心`, 2 + d.weight / 4] as const,
  ]),
];

/** ICD-10 codes: common complaints dominate; rare, sensitive diagnoses occur a few times per 100,000. */
export const DIAGNOSES: ReadonlyArray<{ code: string; weight: number; cost: number }> = [
  { code: 'J06.9', weight: 160, cost: 5.0 },
  { code: 'I10', weight: 120, cost: 5.6 },
  { code: 'E11.9', weight: 70, cost: 6.0 },
  { code: 'K29.7', weight: 60, cost: 5.4 },
  { code: 'M54.5', weight: 50, cost: 5.5 },
  { code: 'J20.9', weight: 45, cost: 5.2 },
  { code: 'K52.9', weight: 30, cost: 5.1 },
  { code: 'N39.0', weight: 25, cost: 5.5 },
  { code: 'H10.9', weight: 20, cost: 4.8 },
  { code: 'L30.9', weight: 20, cost: 4.9 },
  { code: 'I25.1', weight: 15, cost: 7.5 },
  { code: 'J45.9', weight: 12, cost: 6.0 },
  { code: 'O80', weight: 10, cost: 8.2 },
  { code: 'S52.5', weight: 6, cost: 8.0 },
  { code: 'I63.9', weight: 5, cost: 9.5 },
  { code: 'C34.9', weight: 0.8, cost: 10.5 },
  { code: 'C16.9', weight: 0.5, cost: 10.3 },
  { code: 'F20.9', weight: 0.4, cost: 8.5 },
  { code: 'B20', weight: 0.1, cost: 9.0 },
  { code: 'G35', weight: 0.03, cost: 9.8 },
  { code: 'E84.9', weight: 0.005, cost: 10.0 },
];

export const STREET_SUFFIXES = ['路', '街', '大道', '巷', '北路', '南路', '中路', '东路', '西路'];

/**
 * Log-normal amounts, exp(mu + sigma · N(0, 1)) rounded to `digits`: the synthetic domain draws
 * them so, and dummy data from the same shapes, so a filter an operator writes on dummy data
 * (income > 30000) finds rows there as it would in the snapshot.
 */
export const LOG_NORMAL: Readonly<Record<string, { mu: number; sigma: number; digits: number }>> = {
  income: { mu: 10.7, sigma: 0.75, digits: 2 },
  registered_capital: { mu: 5.0, sigma: 1.7, digits: 2 },
  water_m3: { mu: 2.2, sigma: 0.45, digits: 1 },
  electricity_kwh: { mu: 5.2, sigma: 0.55, digits: 0 },
  gas_m3: { mu: 2.8, sigma: 0.5, digits: 1 },
};

/** Contribution bases are clamped to this band (元 a month); contributions are 8 % of the base. */
export const SALARY_BASE = { min: 4000, max: 30000, contributionRate: 0.08 } as const;
