/**
 * @module acme
 * Issuance over ACME: the issuer, challenge answers and responders, problems, ARI.
 */
export { ariCertId, fetchRenewalInfo } from './ari.ts';
export { ALPN_ACME, ChallengeAnswers, type ChallengeType, runDnsHook, type StandaloneResponder, startStandaloneResponder } from './challenges.ts';
export { DIRECTORIES, resolveDirectory } from './directory.ts';
export { AcmeIssuer, type AcmeIssuerOptions, CHALLENGE_ORDER, type IssueOptions, KEY_TYPES, type KeyType } from './issuer.ts';
export { AcmeError, type AcmeProblem, explainProblem } from './problems.ts';
