import { DefaultFailureConverter } from '@temporalio/common';

/**
 * Error messages and stack traces go into an encoded payload, so the payload codec encrypts
 * them too. Loaded by path (DataConverter.failureConverterPath) by clients, workers and the
 * workflow sandbox alike, hence its own module with no other imports.
 */
export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
