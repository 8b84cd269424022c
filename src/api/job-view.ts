/**
 * A job's row as the job API shows it (the shape: api/schemas/job.ts). Finished jobs show no rate or ETA.
 * @module
 */
import { etaSeconds, processPercent, type JobStatus } from '../domain/job.js';
import { progressOf, type JobRow } from '../store/jobs.js';
import type { JobView } from './schemas/job.js';

export function jobView(job: JobRow): JobView {
  const progress = progressOf(job);
  const finished = job.status === 'SUCCESS' || job.status === 'FAIL' || job.status === 'CANCELLED';
  return {
    job_id: job.id,
    job_type: job.job_type,
    status: job.status as JobStatus,
    begin_time: job.begin_time,
    end_time: job.end_time ?? '',
    error_code: job.error_code,
    fail_reason: job.fail_reason,
    entities: {
      image_id: job.dest_image_id,
      image_name: job.image_name,
      process_percent: processPercent(progress, job.status),
      current_task: job.current_task,
    },
    source_region: job.source_region,
    source_image_id: job.source_image_id,
    source_image_name: job.source_image_name,
    dest_region: job.dest_region,
    dest_image_id: job.dest_image_id,
    bytes_total: job.bytes_total,
    bytes_transferred: job.bytes_transferred,
    bytes_skipped_present: job.bytes_skipped_present,
    bytes_skipped_zero: job.bytes_skipped_zero,
    bytes_per_second: finished ? 0 : job.bytes_per_second,
    eta_seconds: finished ? 0 : etaSeconds(progress),
    attempts: job.attempts,
    ...(job.share_with !== null ? { share_with: JSON.parse(job.share_with) as string[] } : {}),
    ...(job.request_id !== null ? { request_id: job.request_id } : {}),
  };
}
