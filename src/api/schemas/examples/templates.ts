import { submitJobResponse } from './jobs.ts';

export const listTemplatesResponse = [
  {
    id: 'education-in-district',
    title: '某区县各学历人数与平均收入',
    description: '选定一个区县，按文化程度统计居民人数与平均年收入。',
    modes: ['aggregate'],
    needs: { population: ['district', 'education', 'income'] },
    sql: 'SELECT education, count(*) AS people, round(avg(income), 0) AS mean_income FROM population WHERE district = $district GROUP BY education ORDER BY education',
    parameters: [
      {
        name: 'district',
        type: 'code',
        label: '区县',
        default: '云岩区',
        codes: ['云岩区', '南明区', '观山湖区', '花溪区', '清镇市', '白云区', '乌当区', '修文县', '开阳县', '息烽县'],
      },
    ],
    dp: null,
  },
];

export const runTemplateRequest = { parameters: { district: '云岩区' }, name: '云岩区各学历人数与平均收入' };

export const runTemplateResponse = {
  ...submitJobResponse,
  name: '云岩区各学历人数与平均收入',
};
