export { createRiskEngine, DefaultRiskEngine, DisabledRiskEngine } from './engine';
export type { RiskEngineWiring, RiskLogger } from './engine';
export { RulesFileError } from './rules';
export type { RiskAssessment, RiskEngine, RiskInput, RiskRuntime } from './types';
