import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { domainVersions } from '../../domain/index.ts';
import { effectiveRules } from '../../masking/index.ts';
import type { Platform } from '../../platform/index.ts';
import type { Policies } from '../../policies/index.ts';
import { example, ProblemRef } from '../schemas/index.ts';
import { PublishedChangeBody } from '../schemas/register.ts';
import * as ex from '../schemas/examples/catalog.ts';
import type { Routes } from './scope.ts';

/** The catalog as operators read it: attributes, levels, the negative list and the masking each column allows. */
const Nullable = Type.Union([Type.String(), Type.Null()]);

const CatalogDataset = Type.Object({
  name: Type.String(),
  title: Type.String(),
  description: Nullable,
  provider: Type.String(),
  providerName: Type.String(),
  updateCycle: Type.String(),
  attributes: Type.Object({ sharing: Type.String(), open: Type.String(), operation: Type.String() }),
  privacyUnit: Type.String({ description: 'the column that names one person (or household) for dp and k' }),
  sensitiveFacts: Type.Boolean({
    description:
      'every row is a sensitive fact about a person (a health event, …): granted to dp contracts only, analysed under an ε budget',
  }),
  version: Type.Union([
    Type.Object({
      version: Type.Integer(),
      rows: Type.Integer(),
      contentHash: Type.String(),
      loadedAt: Type.String(),
      source: Type.String(),
    }),
    Type.Null(),
  ]),
  columns: Type.Array(
    Type.Object({
      name: Type.String(),
      type: Type.String(),
      title: Nullable,
      classification: Type.String(),
      role: Type.String(),
      format: Nullable,
      negativeList: Type.Boolean(),
      dpOnly: Type.Boolean({ description: 'analysed only in dp mode, under an ε budget' }),
      masking: Type.Union([
        Type.Object({
          default: Type.String(),
          allowed: Type.Array(Type.String(), {
            description:
              "the rules (or rule kinds: 'generalize' allows every form of it) this column may be masked with",
          }),
        }),
        Type.Null(),
      ]),
    }),
  ),
});

const Withdrawal = Type.Object({
  dataset: Type.String(),
  reason: Type.String(),
  withdrawnBy: Type.String(),
  withdrawnAt: Type.String(),
  suspended: Type.Array(Type.String()),
  reinstatedAt: Nullable,
  reinstatedBy: Nullable,
  reinstateReason: Nullable,
});
const DatasetParams = Type.Object({ id: Type.String({ pattern: '^[a-z_][a-z0-9_]*$', maxLength: 64 }) });
const ReasonBody = Type.Object(
  { reason: Type.String({ minLength: 1, maxLength: 2000 }) },
  { additionalProperties: false },
);
const errors = { 400: ProblemRef, 401: ProblemRef, 403: ProblemRef, 404: ProblemRef };

/** The catalog, and datasets withdrawn from operation on an objection and reinstated. */
export const catalogRoutes: FastifyPluginAsyncTypebox<{ platform: Platform }> = async (app, { platform }) => {
  catalog(app, platform);
  withdrawals(app, platform);
};

function catalog(app: Routes, { policies, config }: Platform): void {
  app.get(
    '/v1/catalog',
    {
      schema: {
        tags: ['catalog'],
        operationId: 'getCatalog',
        summary: 'Datasets, columns and attributes (negative list marked)',
        description:
          "Any user. The public data catalog (公共数据目录): each dataset's provider, update cycle, sharing / open / operation attributes and loaded version, and each column's classification, identifier role, negative-list and dp-only marks and the masking rules an application may choose for it (`masking.allowed`, default `masking.default`). The example shows one dataset and three of its columns.",
        response: {
          200: example(
            Type.Object({
              version: Type.String(),
              policyHash: Type.String(),
              datasets: Type.Array(CatalogDataset),
            }),
            ex.getCatalogResponse,
          ),
          401: ProblemRef,
        },
      },
    },
    async () => catalogView(policies, await domainVersions(config.dataDir)),
  );
}

/** Withdrawals on an objection (seed 001 第二十二条): the dataset's provider or the bureau. */
function withdrawals(app: Routes, { withdrawals }: Platform): void {
  app.post(
    '/v1/datasets/:id/withdraw',
    {
      config: { roles: ['provider', 'bureau'] },
      schema: {
        tags: ['catalog'],
        operationId: 'withdrawDataset',
        summary:
          'Withdraw a dataset on an objection: every active contract using it is suspended and its jobs cancelled (seed 001 第二十二条)',
        description:
          "The dataset's provider, or the bureau. Withdraws a dataset from operation on an objection (异议): every active contract using it is suspended and its queued and running jobs cancelled, and no application may ask for it until it is reinstated. The withdrawal and each suspension are published in the public register with `reasonCategory` (default: objection) and `statement`, never `reason`. Refused: a statement carrying a person's identifier (400), another provider's dataset (403), a dataset already withdrawn (409).",
        params: DatasetParams,
        body: example(PublishedChangeBody, ex.withdrawDatasetRequest),
        response: { 200: example(Withdrawal, ex.withdrawDatasetResponse), ...errors, 409: ProblemRef },
      },
    },
    async (req) => {
      const { reason, reasonCategory, statement } = req.body;
      return withdrawals.withdraw(req.principal, req.params.id, reason, req.id, { reasonCategory, statement });
    },
  );

  app.post(
    '/v1/datasets/:id/reinstate',
    {
      config: { roles: ['provider', 'bureau'] },
      schema: {
        tags: ['catalog'],
        operationId: 'reinstateDataset',
        summary:
          'Lift a withdrawal once the objection is answered; suspended contracts stay suspended until the bureau resumes each (listed in stillSuspended)',
        description:
          "The dataset's provider, or the bureau. Lifts a withdrawal once the objection is answered; contracts it suspended stay suspended until the bureau resumes each (`stillSuspended`). Refused: another provider's dataset (403), a dataset not withdrawn (409).",
        params: DatasetParams,
        body: example(ReasonBody, ex.reinstateDatasetRequest),
        response: {
          200: example(
            Type.Intersect([Withdrawal, Type.Object({ stillSuspended: Type.Array(Type.String()) })]),
            ex.reinstateDatasetResponse,
          ),
          ...errors,
          409: ProblemRef,
        },
      },
    },
    async (req) => withdrawals.reinstate(req.principal, req.params.id, req.body.reason, req.id),
  );

  app.get(
    '/v1/datasets/:id/withdrawals',
    {
      config: { roles: ['provider', 'bureau', 'risk'] },
      schema: {
        tags: ['catalog'],
        operationId: 'listDatasetWithdrawals',
        summary: 'Withdrawals of a dataset and the contracts they suspended',
        params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
        description:
          'Providers, bureau and risk staff. Every withdrawal of the dataset, newest first, with its reasons, who withdrew and reinstated it, and the contracts it suspended. Operators are refused (403).',
        response: { 200: example(Type.Array(Withdrawal), ex.listDatasetWithdrawalsResponse), ...errors },
      },
    },
    async (req) => withdrawals.list(req.params.id),
  );
}

/** The catalog as GET /v1/catalog answers it: each dataset with its loaded version and each column's masking choices. */
function catalogView(policies: Policies, versions: Awaited<ReturnType<typeof domainVersions>>) {
  const { catalog, masking, hash } = policies;
  return {
    version: catalog.version,
    policyHash: hash,
    datasets: Object.entries(catalog.datasets).map(([name, ds]) => ({
      name,
      title: ds.title,
      description: ds.description ?? null,
      provider: ds.provider,
      providerName: ds.providerName,
      updateCycle: ds.updateCycle,
      attributes: ds.attributes,
      privacyUnit: ds.privacyUnit,
      sensitiveFacts: ds.sensitiveFacts === true,
      version: versions[name]
        ? {
            version: versions[name].version,
            rows: versions[name].rows,
            contentHash: versions[name].contentHash,
            loadedAt: versions[name].loadedAt,
            source: versions[name].source,
          }
        : null,
      columns: Object.entries(ds.columns).map(([col, c]) => {
        const rules = effectiveRules(masking, catalog, name, col);
        return {
          name: col,
          type: c.type,
          title: c.title ?? null,
          classification: c.classification,
          role: c.role,
          format: c.format ?? null,
          negativeList: c.negativeList === true,
          // analysed only in dp mode, under an ε budget (docs/architecture.md §12)
          dpOnly: c.dpOnly === true,
          masking: c.negativeList ? null : { default: rules.default, allowed: rules.allowed },
        };
      }),
    })),
  };
}
