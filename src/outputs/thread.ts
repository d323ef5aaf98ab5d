/**
 * A job's thread: the reviewers' comments when they request changes or reject its output, and the
 * operator's and bureau's replies (docs/architecture.md §12). Reviewers' comments join the thread
 * only when their votes are consolidated, so the thread never shows one reviewer another's vote.
 */
import type { Tx } from '../store/index.ts';

export interface Comment {
  seq: number;
  author: string;
  org: string;
  role: string;
  body: string;
  createdAt: string;
}

type Reader = Pick<Tx, 'all'>;

export async function listComments(reader: Reader, jobId: string): Promise<Comment[]> {
  const rows = await reader.all<Record<string, string | number>>(
    'SELECT * FROM job_comments WHERE job_id = $1 ORDER BY seq',
    [jobId],
  );
  return rows.map((r) => ({
    seq: Number(r.seq),
    author: String(r.author),
    org: String(r.org),
    role: String(r.role),
    body: String(r.body),
    createdAt: String(r.created_at),
  }));
}

export async function addComment(tx: Tx, jobId: string, c: Omit<Comment, 'seq'>): Promise<Comment> {
  const last = await tx.one<{ n: number }>('SELECT coalesce(max(seq), 0) AS n FROM job_comments WHERE job_id = $1', [
    jobId,
  ]);
  const seq = Number(last?.n ?? 0) + 1;
  await tx.run(
    'INSERT INTO job_comments (job_id, seq, author, org, role, body, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
    [jobId, seq, c.author, c.org, c.role, c.body, c.createdAt],
    'job_comments',
  );
  return { seq, ...c };
}
