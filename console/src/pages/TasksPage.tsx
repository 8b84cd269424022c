/**
 * Tasks: the replication and copy jobs started from this region, one row per destination, refreshed every
 * two seconds: source and new image, progress, bytes, rate, ETA, status, the reason of a failure, and Cancel
 * (after a confirmation) on an unfinished one.
 */
import { Alert, Badge, Button, Group, Modal, Progress, Stack, Table, Text } from '@mantine/core';
import { useCallback, useEffect, useState } from 'react';
import { call, type Job, type Region, type WhoAmI } from '../api';
import { formatBytes, formatDuration, formatTime } from '../format';

const STATUS_COLOR: Record<Job['status'], string> = {
  INIT: 'gray',
  RUNNING: 'blue',
  SUCCESS: 'green',
  FAIL: 'red',
  CANCELLED: 'orange',
};

const REFRESH_MS = 2000;

export function TasksPage({ region }: { region: Region; regions: Region[]; me: WhoAmI }) {
  const [jobs, setJobs] = useState<Job[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [cancelling, setCancelling] = useState<Job | null>(null);

  const load = useCallback(async () => {
    try {
      const answer = await call<{ jobs: Job[] }>(region.endpoint, '/v1/cloudimages/jobs?limit=100');
      setJobs(answer.jobs);
      setError(null);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }, [region.endpoint]);

  useEffect(() => {
    void load();
    const timer = setInterval(() => void load(), REFRESH_MS);
    return () => clearInterval(timer);
  }, [load]);

  async function cancel(job: Job) {
    setCancelling(null);
    try {
      await call(region.endpoint, `/v1/cloudimages/job/${job.job_id}/cancel`, { method: 'POST' });
      await load();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }

  return (
    <Stack>
      <Text size="sm" c="dimmed">
        Jobs started from {region.name}. The list refreshes by itself.
      </Text>
      {error && (
        <Alert color="red" role="alert">
          {error}
        </Alert>
      )}
      {jobs && jobs.length === 0 && (
        <Text c="dimmed" ta="center" py="xl" data-testid="empty">
          No replication or copy was started from {region.name} yet.
        </Text>
      )}
      {jobs && jobs.length > 0 && (
        <Table striped data-testid="job-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Source image</Table.Th>
              <Table.Th>To</Table.Th>
              <Table.Th>New image</Table.Th>
              <Table.Th w={160}>Progress</Table.Th>
              <Table.Th>Bytes</Table.Th>
              <Table.Th>Rate</Table.Th>
              <Table.Th>ETA</Table.Th>
              <Table.Th>Status</Table.Th>
              <Table.Th>Started</Table.Th>
              <Table.Th />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {jobs.map((job) => {
              const done = job.bytes_transferred + job.bytes_skipped_present + job.bytes_skipped_zero;
              const unfinished = job.status === 'INIT' || job.status === 'RUNNING';
              return (
                <Table.Tr key={job.job_id} data-job-id={job.job_id}>
                  <Table.Td>{job.source_image_name ?? job.source_image_id}</Table.Td>
                  <Table.Td>{job.dest_region}</Table.Td>
                  <Table.Td ff="monospace" fz="xs">
                    {job.dest_image_id ? `${job.dest_image_id.slice(0, 8)}…` : '—'}
                  </Table.Td>
                  <Table.Td>
                    <Progress
                      value={Math.round(job.entities.process_percent * 100)}
                      aria-label="Job progress"
                      color={STATUS_COLOR[job.status]}
                    />
                    <Text size="xs" c="dimmed">
                      {Math.round(job.entities.process_percent * 100)}%
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    {formatBytes(done)} / {formatBytes(job.bytes_total)}
                  </Table.Td>
                  <Table.Td>{unfinished ? `${formatBytes(job.bytes_per_second)}/s` : '—'}</Table.Td>
                  <Table.Td>{unfinished ? formatDuration(job.eta_seconds) : '—'}</Table.Td>
                  <Table.Td>
                    <Badge color={STATUS_COLOR[job.status]} data-testid="job-status">
                      {job.status}
                    </Badge>
                    {job.fail_reason && job.status === 'FAIL' && (
                      <Text size="xs" c="red">
                        {job.fail_reason}
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>{formatTime(job.begin_time)}</Table.Td>
                  <Table.Td>
                    {unfinished && (
                      <Button size="xs" color="red" variant="light" onClick={() => setCancelling(job)}>
                        Cancel
                      </Button>
                    )}
                  </Table.Td>
                </Table.Tr>
              );
            })}
          </Table.Tbody>
        </Table>
      )}
      {cancelling && (
        <Modal opened onClose={() => setCancelling(null)} title="Cancel the replication?">
          <Stack>
            <Text>
              The job stops and the new image in {cancelling.dest_region} is deleted. Chunks already copied
              are left to garbage collection.
            </Text>
            <Group justify="flex-end">
              <Button variant="default" onClick={() => setCancelling(null)}>
                Keep it
              </Button>
              <Button color="red" onClick={() => void cancel(cancelling)}>
                Cancel the job
              </Button>
            </Group>
          </Stack>
        </Modal>
      )}
    </Stack>
  );
}
