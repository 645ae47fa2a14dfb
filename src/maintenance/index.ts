/**
 * @module maintenance
 * The renewal loop.
 */

export { type BucketSpec, LETS_ENCRYPT_LIMITS, TokenBuckets } from '../ratelimit.ts';
export { type CycleReport, dueAt, Maintainer, type MaintainerOptions } from './maintainer.ts';
