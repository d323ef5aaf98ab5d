/**
 * A fetch that hands each request to a fastify instance in the same process (`inject`): the tests
 * and the embedded demo speak to the API through the typed client without opening a port, and the
 * request still passes every hook, schema and serializer a socket's would.
 */
import type { InjectOptions, LightMyRequestResponse } from 'fastify';

/** Any fastify instance, whatever its logger and type provider: only `inject` is used. */
export interface Injectable {
  inject(opts: InjectOptions): Promise<LightMyRequestResponse>;
}

export function injectFetch(server: Injectable): (request: Request) => Promise<Response> {
  return async (request) => {
    const url = new URL(request.url);
    const body = request.body ? Buffer.from(await request.arrayBuffer()) : undefined;
    const res = await server.inject({
      method: request.method as 'GET',
      url: url.pathname + url.search,
      headers: Object.fromEntries(request.headers),
      ...(body ? { payload: body } : {}),
    });
    const headers = new Headers();
    for (const [name, value] of Object.entries(res.headers))
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : String(value));
    // a 204 or 304 may not carry a body in the Response constructor
    return new Response(res.statusCode === 204 || res.statusCode === 304 ? null : new Uint8Array(res.rawPayload), {
      status: res.statusCode,
      headers,
    });
  };
}
