/**
 * Baidu BCC's cross-region copy body (`POST /v2/image/{id}?remoteCopy`, routes/bcc.ts) and answer.
 * @module
 */
import { Type, type Static } from 'typebox';
import { MAX_COPY_NAME_LENGTH } from '../../domain/replication-rules.js';

export const RemoteCopyBody = Type.Object(
  {
    name: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: MAX_COPY_NAME_LENGTH,
        pattern: '^(?=[\\s\\S]*\\S)[^<>\\p{Cc}]*$',
        description: `1 to ${MAX_COPY_NAME_LENGTH} characters, not all blank, without <, > or control characters.`,
      }),
    ),
    destRegion: Type.Array(Type.String({ maxLength: 64 }), {
      minItems: 1,
      maxItems: 50,
      description: 'a list of 1 to 50 region names.',
    }),
    /** Ferry's extension: the agency that allows the copies (else one holding the policy in each region). */
    agencyName: Type.Optional(
      Type.String({ minLength: 1, maxLength: 255, description: '1 to 255 characters.' }),
    ),
  },
  { additionalProperties: false },
);
export type RemoteCopyBody = Static<typeof RemoteCopyBody>;

/** One destination's result, as BCC's SDK models it (`RemoteCopyImageReturnImageIds`). */
export const RemoteCopyAnswer = Type.Object({
  result: Type.Array(
    Type.Object({
      region: Type.String(),
      /** The new image's ID in `region`; empty if refused. */
      imageId: Type.String(),
      errMsg: Type.String(),
      code: Type.String(),
    }),
  ),
});
export type RemoteCopyAnswer = Static<typeof RemoteCopyAnswer>;
