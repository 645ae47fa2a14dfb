/**
 * @module manager
 * Domain policy and registry, and obtain (lock, look again, issue, write all or nothing).
 */
export { CertManager, type ManagerOptions, type ObtainOptions, type ObtainResult } from './manager.ts';
export { checkIssuable, type PolicyOptions, registeredDomain } from './policy.ts';
export { type Decision, DomainRegistry, type RegistryOptions } from './registry.ts';
