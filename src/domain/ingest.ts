// placeholder module replaced below
export interface IngestOptions { dataset: string }
export interface IngestReport { dataset: string }
export async function ingestDataset(): Promise<IngestReport> { throw new TypeError('ingest not written yet'); }
