import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ERRORS, isPdsError, PdsError, type ErrorCode, type FieldIssue } from '../errors/index.ts';

/** The largest request body the API reads (fastify's bodyLimit). */
export const BODY_LIMIT_BYTES = 1024 * 1024;

/** The problem type URI of an error code (RFC 9457 §3.1.1). */
export function problemType(code: ErrorCode): string {
  return `urn:pds:problem:${code}`;
}

function sendProblem(reply: FastifyReply, req: FastifyRequest, err: PdsError): FastifyReply {
  // RFC 9110 §10.2.3: a 429 says when to come back
  if (typeof err.extra?.retryAfterSeconds === 'number')
    reply.header('retry-after', String(err.extra.retryAfterSeconds));
  return reply
    .code(err.status)
    .type('application/problem+json')
    .send({
      type: problemType(err.code),
      title: err.title,
      status: err.status,
      detail: err.detail,
      code: err.code,
      instance: req.url.split('?')[0],
      requestId: req.id,
      ...(err.errors ? { errors: err.errors } : {}),
      ...(err.extra && (err.status < 500 || SAID_AS_IS.has(err.code)) ? err.extra : {}),
    });
}

/** fastify's own client errors (bad JSON, wrong media type, too large) mapped to our codes. */
export function fromFastify(err: FastifyError): PdsError | undefined {
  if (err.validation) {
    const context = err.validationContext ?? 'body';
    const errors: FieldIssue[] = err.validation.map((v) => {
      const extra =
        v.keyword === 'additionalProperties'
          ? `/${String((v.params as { additionalProperty?: string }).additionalProperty)}`
          : '';
      const required =
        v.keyword === 'required' ? `/${String((v.params as { missingProperty?: string }).missingProperty)}` : '';
      const allowed =
        v.keyword === 'const' || v.keyword === 'enum'
          ? ` (${JSON.stringify((v.params as { allowedValue?: unknown; allowedValues?: unknown }).allowedValue ?? (v.params as { allowedValues?: unknown }).allowedValues)})`
          : '';
      return {
        field: `/${context}${v.instancePath}${extra}${required}`,
        message: `${v.message ?? 'is invalid'}${allowed}`,
      };
    });
    // anyOf over literals reports each branch: keep the most specific line per field
    const byField = new Map<string, FieldIssue>();
    for (const e of errors)
      if (!byField.has(e.field) || byField.get(e.field)!.message.startsWith('must match')) byField.set(e.field, e);
    const unique = [...byField.values()];
    return new PdsError('ERR_VALIDATION', unique.map((e) => `${e.field}: ${e.message}`).join('; '), { errors: unique });
  }
  if (err.statusCode === 413)
    return new PdsError(
      'ERR_PAYLOAD_TOO_LARGE',
      `the request body is larger than the limit of ${BODY_LIMIT_BYTES} bytes (1 MiB); send less, or split the request`,
      { extra: { limitBytes: BODY_LIMIT_BYTES } },
    );
  if (err.statusCode === 415)
    return new PdsError('ERR_UNSUPPORTED_MEDIA_TYPE', 'unsupported content type; send application/json');
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500)
    return new PdsError('ERR_VALIDATION', err.message);
  return undefined;
}

/** Server-side errors whose message is written for the client: what is full, failing or damaged. */
const SAID_AS_IS = new Set<ErrorCode>([
  'ERR_STORAGE_FULL',
  'ERR_STORE_UNAVAILABLE',
  'ERR_DOMAIN_DAMAGED',
  'ERR_REPORT_UNRENDERABLE',
  'ERR_STORE_DAMAGED',
]);

/** One error handler for the whole API: every failure answers problem+json with a stable code. */
export function errorHandler(err: unknown, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (isPdsError(err)) {
    if (err.status >= 500) req.log.error({ err }, 'request failed');
    // 5xx never leak details, except the ones written for the caller (a full disk, a store restarting)
    const told = err.status < 500 || SAID_AS_IS.has(err.code);
    return sendProblem(reply, req, told ? err : new PdsError(err.code, ERRORS[err.code].title));
  }
  const mapped = fromFastify(err as FastifyError);
  if (mapped) return sendProblem(reply, req, mapped);
  req.log.error({ err }, 'unexpected error');
  return sendProblem(
    reply,
    req,
    new PdsError('ERR_INTERNAL', 'an unexpected error occurred; quote the request id when reporting it'),
  );
}

export function notFoundHandler(req: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendProblem(reply, req, new PdsError('ERR_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`));
}
