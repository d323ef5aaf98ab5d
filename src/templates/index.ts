/**
 * Query templates: the bureau's vetted, parameterised queries (policies/templates.yaml), listed for a
 * contract and run as ordinary jobs with their parameters bound as checked literals.
 */
export { bindTemplate, codesOf, type ParameterValue } from './bind.ts';
export { TemplateService, type TemplateParameterView, type TemplateServiceDeps, type TemplateView } from './service.ts';
