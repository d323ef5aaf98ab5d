import { PdsError } from '../errors/index.ts';
import type { Tx } from '../store/index.ts';

/**
 * Datasets under a withdrawal not yet lifted, with when they were withdrawn. A withdrawn dataset
 * takes no new application or approval, and no contract using it resumes, until it is reinstated
 * (seed 001 第二十二条: 暂停或撤回, until the objection is answered).
 */
export async function withdrawnDatasets(reader: Pick<Tx, 'all'>, datasets: string[]): Promise<Map<string, string>> {
  if (datasets.length === 0) return new Map();
  const rows = await reader.all<{ dataset: string; withdrawn_at: string }>(
    `SELECT dataset, max(withdrawn_at) AS withdrawn_at FROM dataset_withdrawals WHERE reinstated_at IS NULL
       AND dataset IN (${datasets.map((_, i) => `$${i + 1}`).join(', ')}) GROUP BY dataset`,
    datasets,
  );
  return new Map(rows.map((r) => [r.dataset, r.withdrawn_at]));
}

/** Refuses when any of `datasets` is withdrawn, naming each and, given `field`, where it was asked for. */
export async function assertNotWithdrawn(
  reader: Pick<Tx, 'all'>,
  datasets: string[],
  what: string,
  field?: (i: number) => string,
): Promise<void> {
  const withdrawn = await withdrawnDatasets(reader, datasets);
  if (withdrawn.size === 0) return;
  const named = [...withdrawn].map(([d, at]) => `${d} (withdrawn ${at})`).join(', ');
  throw new PdsError(
    'ERR_DATASET_WITHDRAWN',
    `${what}: ${named}; it returns when its provider or the bureau reinstates it`,
    {
      errors: field
        ? datasets.flatMap((d, i) =>
            withdrawn.has(d) ? [{ field: field(i), message: `dataset ${d} is withdrawn` }] : [],
          )
        : undefined,
    },
  );
}
