// `s3://bucket/prefix` locations: where in a bucket the project folders live.

/** A bucket and the key prefix under which the project folders live. */

// eslint-disable-next-line no-control-regex -- control characters are what is refused
const REFUSED_IN_SEGMENT = /[\\\u0000-\u001f\u007f]/
export interface S3Location {
  readonly bucket: string
  /** '' (the bucket's top level) or segments ending with '/', e.g. 'pypi/'. */
  readonly prefix: string
}

// Bucket names (AWS "Bucket naming rules"): 3 to 63 lowercase letters, digits, dots and
// hyphens, starting and ending with a letter or digit. Other S3-compatible stores are
// laxer (underscores, capitals), and their buckets are still reachable, so only the
// characters that cannot be part of a URL host or path segment are refused.
const BUCKET = /^[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]$/

/**
 * Parse `s3://bucket` or `s3://bucket/prefix[/]`; undefined when it is not such a location.
 * Prefix segments must be non-empty and neither `.` nor `..`.
 * @example parseS3Location('s3://pkgs/pypi') // { bucket: 'pkgs', prefix: 'pypi/' }
 */
export function parseS3Location(value: string): S3Location | undefined {
  const match = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(value)
  const bucket = match?.[1]
  if (bucket === undefined || !BUCKET.test(bucket)) return undefined
  const rest = (match?.[2] ?? '').replace(/\/$/, '')
  if (rest === '') return { bucket, prefix: '' }
  const segments = rest.split('/')
  if (
    segments.some(
      (segment) => segment === '' || segment === '.' || segment === '..' || REFUSED_IN_SEGMENT.test(segment),
    )
  )
    return undefined
  return { bucket, prefix: `${rest}/` }
}

/** The location as the operator writes it, e.g. `s3://pkgs/pypi`. */
export function formatS3Location(location: S3Location): string {
  return `s3://${location.bucket}/${location.prefix.replace(/\/$/, '')}`.replace(/\/$/, '')
}
