/**
 * The typed client of the pubdata-sandbox API: `openapi-fetch` over the types generated from the
 * API's own OpenAPI document (schema.ts, `npm run openapi`), so a route's path, parameters, body
 * and answer are checked at compile time wherever the client is used — the CLI, the demo, the
 * tests. Every answer that is not 2xx becomes an {@link ApiError} carrying the problem's stable code.
 */
import createClient, { type Client, type Middleware } from 'openapi-fetch';
import type { components, operations, paths } from './schema.ts';

export type { components, operations, paths };
export { injectFetch, type Injectable } from './inject.ts';
export type Schemas = components['schemas'];
export type PdsClient = Client<paths>;

/** The JSON an operation answers with on success, e.g. `Answer<'getJob'>`. */
export type Answer<K extends keyof operations> = operations[K]['responses'] extends infer R
  ? R extends { 200: { content: { 'application/json': infer J } } }
    ? J
    : R extends { 201: { content: { 'application/json': infer J } } }
      ? J
      : R extends { 202: { content: { 'application/json': infer J } } }
        ? J
        : never
  : never;

/** The JSON body an operation takes, e.g. `Body<'submitJob'>`. */
export type Body<K extends keyof operations> = operations[K] extends {
  requestBody?: { content: { 'application/json': infer B } };
}
  ? B
  : never;

/** An RFC 9457 problem the API answered with, as an error. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly problem: Record<string, unknown>,
  ) {
    super(`${status} ${code}: ${detail}`);
  }
}

export interface PdsClientOptions {
  /** the API's origin, e.g. http://127.0.0.1:8080 */
  baseUrl: string;
  /** a bearer token (a user's, or a worker's credential) */
  token?: string;
  /** another transport: the tests' and the demo's in-process server (see injectFetch) */
  fetch?: (request: Request) => Promise<Response>;
}

/** A client whose failed calls throw {@link ApiError}. */
export function createPdsClient(options: PdsClientOptions): PdsClient {
  const client = createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const auth: Middleware = {
    onRequest({ request }) {
      if (options.token) request.headers.set('authorization', `Bearer ${options.token}`);
      return request;
    },
    async onResponse({ response }) {
      if (response.ok) return response;
      throw await apiErrorOf(response);
    },
  };
  client.use(auth);
  return client;
}

async function apiErrorOf(response: Response): Promise<ApiError> {
  const text = await response.text();
  let problem: Record<string, unknown> = {};
  try {
    problem = JSON.parse(text) as Record<string, unknown>;
  } catch {
    problem = { detail: text.slice(0, 500) };
  }
  return new ApiError(
    response.status,
    typeof problem.code === 'string' ? problem.code : `HTTP_${response.status}`,
    typeof problem.detail === 'string' ? problem.detail : response.statusText,
    problem,
  );
}

/**
 * The data of a call that succeeded (a failed one has thrown already): `await must(api.GET(…))`.
 * A 204 has no data; it is returned as undefined.
 */
export async function must<T>(call: Promise<{ data?: T; response: Response }>): Promise<T> {
  const { data } = await call;
  return data as T;
}
