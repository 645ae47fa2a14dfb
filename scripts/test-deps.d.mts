/** Types of scripts/test-deps.mjs for the test helpers. */
export declare const PACKAGES: ReadonlyArray<{ pkg: string; probes: readonly string[]; why: string }>;
export declare function locate(probe: string): string | null;
export declare function missingPackages(): string[];
