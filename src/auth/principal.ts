import type { Actor } from '../audit/index.ts';

/** A signed-in user as the services see it. */
export interface Principal {
  sub: string;
  org: string;
  roles: string[];
}

export function hasRole(p: Principal, ...roles: string[]): boolean {
  return roles.some((r) => p.roles.includes(r));
}

/**
 * Who may see an application or contract: the bureau and risk staff, the operator that owns it,
 * and the providers of its datasets. Others get 404, not 403, so existence is not disclosed.
 */
export function canSeeScenario(p: Principal, operatorOrg: string, providers: string[]): boolean {
  if (hasRole(p, 'bureau', 'risk')) return true;
  if (hasRole(p, 'operator') && p.org === operatorOrg) return true;
  return hasRole(p, 'provider') && providers.includes(p.org);
}

/** Who may see an operator's jobs and outputs: the bureau, risk staff, and that operator. */
export function canSeeOperatorWork(p: Principal, operatorOrg: string): boolean {
  return hasRole(p, 'bureau', 'risk') || (hasRole(p, 'operator') && p.org === operatorOrg);
}

export function actorOf(p: Principal, role: string): Actor {
  return { sub: p.sub, org: p.org, role };
}
