/**
 * A job as the IMS job API shows it (`job_id`, `job_type`, `status`, `begin_time`, `end_time`, `error_code`,
 * `fail_reason`, `entities`), plus Ferry's transfer detail: bytes, rate, ETA, and where from and to. The one
 * definition of that shape: the API builds it (api/job-view.ts), the CLI reads it (cli/job-wait.ts).
 * @module
 */
import { Type, type Static } from 'typebox';
import { JOB_STATUSES } from '../../domain/job.js';
import { nullable, oneOf } from './common.js';

const NullableString = nullable(Type.String());

export const JobView = Type.Object({
  job_id: Type.String(),
  job_type: Type.String(),
  status: oneOf(JOB_STATUSES),
  begin_time: Type.String(),
  /** Empty until the job ends (as IMS shows it). */
  end_time: Type.String(),
  error_code: NullableString,
  fail_reason: NullableString,
  entities: Type.Object({
    image_id: NullableString,
    image_name: NullableString,
    /** Share of the image in place at the destination, 0..1. */
    process_percent: Type.Number(),
    current_task: Type.String(),
  }),
  source_region: NullableString,
  source_image_id: NullableString,
  source_image_name: Type.Optional(NullableString),
  dest_region: NullableString,
  dest_image_id: NullableString,
  bytes_total: Type.Integer(),
  bytes_transferred: Type.Integer(),
  bytes_skipped_present: Type.Integer(),
  bytes_skipped_zero: Type.Integer(),
  bytes_per_second: Type.Number(),
  eta_seconds: nullable(Type.Number()),
  attempts: Type.Optional(Type.Integer()),
  /** Projects of the destination region the replica is shared with (pending their answer) once it is active. */
  share_with: Type.Optional(Type.Array(Type.String())),
  /** The replication call that started the job (its events: `GET /v1/events?request_id=`). */
  request_id: Type.Optional(Type.String()),
});
export type JobView = Static<typeof JobView>;
