import { Type } from 'typebox';
import { Id } from './index.ts';

/** Request and response schemas of the query templates (GET /v1/templates, run). */

const closed = { additionalProperties: false } as const;
export const TemplateId = Type.String({ pattern: '^[a-z][a-z0-9-]{0,63}$', maxLength: 64 });

export const TemplateListQuery = Type.Object(
  { contractId: Type.Optional(Id) },
  { ...closed, description: 'with contractId: only the templates that contract can run (mode and granted columns)' },
);

export const TemplateRunParams = Type.Object({ id: Id, templateId: TemplateId }, closed);

export const TemplateRunBody = Type.Object(
  {
    parameters: Type.Record(
      Type.String({ pattern: '^[a-z][a-z0-9_]{0,39}$' }),
      Type.Union([Type.String({ maxLength: 200 }), Type.Integer()]),
      {
        description:
          'each template parameter by name; a code from its list, a whole number in its bounds, a month YYYY-MM',
      },
    ),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  closed,
);

const ParameterView = Type.Object({
  name: Type.String(),
  type: Type.Union([Type.Literal('code'), Type.Literal('integer'), Type.Literal('month')]),
  label: Type.String(),
  min: Type.Optional(Type.Union([Type.Integer(), Type.String()])),
  max: Type.Optional(Type.Union([Type.Integer(), Type.String()])),
  default: Type.Optional(Type.Union([Type.Integer(), Type.String()])),
  codes: Type.Optional(Type.Array(Type.String(), { description: 'type code: the values it takes' })),
});

export const TemplateView = Type.Object({
  id: TemplateId,
  title: Type.String(),
  description: Type.String(),
  modes: Type.Array(Type.Union([Type.Literal('aggregate'), Type.Literal('dp'), Type.Literal('custom')])),
  needs: Type.Record(Type.String(), Type.Array(Type.String()), { description: 'the columns it reads, by dataset' }),
  sql: Type.String({ description: 'the SQL with its $name placeholders' }),
  parameters: Type.Array(ParameterView),
  dp: Type.Union([
    Type.Object({
      bounds: Type.Record(
        Type.String(),
        Type.Unsafe<[number, number]>(Type.Array(Type.Integer(), { minItems: 2, maxItems: 2 })),
      ),
    }),
    Type.Null(),
  ]),
});
