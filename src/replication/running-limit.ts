/**
 * IMS's limit of running replications per user (5 by default) holds across every region, as IMS states it:
 * before starting a replication, the source region counts the user's unfinished replications of its own
 * (asking their destinations whether they ended once the stored count reaches the limit) and asks every
 * other region of the catalog for its count (PEER_CALLS.runningJobs), in parallel. A region that cannot be
 * asked refuses the request (REPLICATION_LIMIT_UNKNOWN, 503: the limit fails closed), unless it is the
 * destination itself, whose replication could not start anyway (REGION_UNREACHABLE, as before).
 *
 * Within a region the count is exact even for requests sent at once (it is taken again, one request at a time,
 * as the job's row is written: store/jobs.ts insertSourceJobWithin). Across regions it is taken once per request: two requests
 * sent to two regions at the same instant may together pass the limit by one.
 * @module
 */
import { FerryError } from '../domain/errors.js';
import { checkRunningJobs, type ReplicationLimits } from '../domain/replication-rules.js';
import type { RegionContext } from '../region/context.js';
import { callPeer, PEER_CALLS, peerRegions, type RunningJobs } from './peer-api.js';

/** The user's replications running from the other regions, and the regions that could not be asked. */
export interface RunningElsewhere {
  running: number;
  unreachable: string[];
}

export async function runningInOtherRegions(ctx: RegionContext, userId: string): Promise<RunningElsewhere> {
  const peers = peerRegions(ctx);
  const answers = await Promise.allSettled(
    peers.map((region) =>
      callPeer<RunningJobs>(ctx.regions, region, PEER_CALLS.runningJobs, { body: { user_id: userId } }),
    ),
  );
  const elsewhere: RunningElsewhere = { running: 0, unreachable: [] };
  answers.forEach((answer, i) => {
    if (answer.status === 'fulfilled') elsewhere.running += answer.value.running;
    else elsewhere.unreachable.push(peers[i]!);
  });
  return elsewhere;
}

/** Refuses a replication into `destination` when `here` + the other regions' count reach the limit. */
export function checkRunningEverywhere(
  here: number,
  elsewhere: RunningElsewhere,
  destination: string,
  limits: ReplicationLimits,
): void {
  const unasked = elsewhere.unreachable.filter((region) => region !== destination);
  if (unasked.length > 0) {
    throw new FerryError(
      'REPLICATION_LIMIT_UNKNOWN',
      `Region ${unasked.join(', ')} cannot be asked how many replications you have running there (at most ${limits.maxRunningJobsPerUser} may run at once across all regions): retry when it answers.`,
    );
  }
  checkRunningJobs(here + elsewhere.running, limits);
}
