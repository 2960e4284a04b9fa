// ListObjectsV2 page after page (at most 1,000 keys each, per the API reference), following the
// continuation token: what every listing of a bucket tree does, whatever it looks for.
import { ListObjectsV2Command, type ListObjectsV2CommandOutput } from '@aws-sdk/client-s3'
import { fail, type S3Context } from './s3-context.js'

/** What to list: keys under `prefix`, after `startAfter` when given, grouped at `/` with `delimiter`. */
export interface ListRequest {
  readonly prefix: string
  readonly startAfter?: string
  readonly delimiter?: '/'
}

/**
 * Hand every page of the listing to `each`, until the last page or until `each` answers false.
 * A failure is eggserve's error, naming `action` (and `key`, when given).
 */
export async function listPages(
  context: S3Context,
  request: ListRequest,
  failure: { readonly action: string; readonly key?: string },
  each: (page: ListObjectsV2CommandOutput) => boolean | undefined,
): Promise<void> {
  const { client, bucket } = context
  let token: string | undefined
  do {
    let page: ListObjectsV2CommandOutput
    try {
      page = await client.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: request.prefix,
          ...(request.delimiter === undefined ? {} : { Delimiter: request.delimiter }),
          // A continuation token carries the start of the listing on.
          ...(token === undefined ? {} : { ContinuationToken: token }),
          ...(token !== undefined || request.startAfter === undefined ? {} : { StartAfter: request.startAfter }),
        }),
      )
    } catch (err) {
      throw fail(context, err, failure.action, failure.key)
    }
    if (each(page) === false) return
    token = page.IsTruncated === true ? page.NextContinuationToken : undefined
  } while (token !== undefined)
}
