// The S3 client every bucket operation goes through, configured once: the standard AWS
// configuration, bounded retries with backoff, timeouts, and no checksums beyond what S3 requires.
import { S3Client } from '@aws-sdk/client-s3'
import type { FastifyBaseLogger } from 'fastify'
import type { S3StorageSpec } from './open-storage.js'

/** Defaults of the S3StorageSpec knobs. */
export const S3_DEFAULTS = {
  maxAttempts: 4,
  timeoutMs: 30_000,
  listingTtlMs: 1000,
  trustedListingTtlMs: 120_000,
  journalPollMs: 1000,
  snapshotEvery: 1000,
} as const

/** The time to connect allowed to requests with an idle timeout of `timeoutMs`. */
export function connectTimeoutMs(timeoutMs: number): number {
  return Math.min(timeoutMs, 10_000)
}

/**
 * A client for `spec`. Region, endpoint and credentials come from the SDK's default chains
 * unless the spec overrides them: AWS_REGION or the config file's region; AWS_ENDPOINT_URL_S3,
 * then AWS_ENDPOINT_URL, then the config file's endpoint_url (the SDK reads them itself:
 * @smithy/core getEndpointUrlConfig); environment, shared files, SSO, web identity, container
 * or instance credentials.
 */
export function createS3Client(spec: S3StorageSpec, log: FastifyBaseLogger): S3Client {
  const timeoutMs = spec.timeoutMs ?? S3_DEFAULTS.timeoutMs
  const warn = (message: string): void => {
    log.warn({ component: 's3' }, message)
  }
  return new S3Client({
    ...(spec.endpoint === undefined ? {} : { endpoint: spec.endpoint }),
    ...(spec.region === undefined ? {} : { region: spec.region }),
    forcePathStyle: spec.pathStyle,
    // The SDK's standard retry strategy: exponential backoff with full jitter (base 100 ms,
    // 500 ms for throttling, at most 20 s per wait) and a retry quota, so an outage is not
    // multiplied by retries. 503 SlowDown, 5xx, timeouts and connection errors are retried.
    retryMode: 'standard',
    maxAttempts: spec.maxAttempts ?? S3_DEFAULTS.maxAttempts,
    // Since 3.729 the SDK adds CRC32 checksums to every upload and checks them on downloads;
    // several S3-compatible stores refuse the new headers (aws/aws-sdk-js-v3#6810), and a
    // checksum over every download costs CPU for nothing: eggserve computes its own digests.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: {
      connectionTimeout: connectTimeoutMs(timeoutMs),
      // Until the answer's headers arrive; then socketTimeout watches the body for stalls.
      requestTimeout: timeoutMs,
      throwOnRequestTimeout: true,
      socketTimeout: timeoutMs,
      // The handler's own warnings (socket exhaustion) go to the log, not to the console.
      logger: { debug: () => undefined, info: () => undefined, warn, error: warn },
    },
  })
}
