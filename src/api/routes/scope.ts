import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';

/**
 * The fastify scope a group of routes is declared on, TypeBox-typed so that each route's schema
 * types its handler. A route plugin is a few such groups, registered in a fixed order: the order
 * is the OpenAPI document's.
 */
export type Routes = Parameters<FastifyPluginAsyncTypebox>[0];
