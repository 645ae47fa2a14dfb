/**
 * @module pki/limits
 * Input limits shared by the parsers and the readers above them.
 */

/** Inputs above this size are refused: no certificate bundle, key or config file is near it. */
export const MAX_INPUT_BYTES = 10 * 1024 * 1024;
