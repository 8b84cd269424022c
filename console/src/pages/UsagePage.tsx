/**
 * Usage in this region per day (`GET /v1/usage`): traffic sent to each region as a chart and a table, and
 * storage (images and vaults), each with its cost at the deployment's prices.
 */
import { Alert, Stack, Table, Text, Title } from '@mantine/core';
import { useEffect, useState } from 'react';
import { call, type Region, type UsageRow, type WhoAmI } from '../api';
import { formatBytes } from '../format';

const KIND: Record<UsageRow['kind'], string> = {
  transfer: 'Traffic',
  image_storage: 'Image storage',
  vault_storage: 'Vault storage',
};

/** Bars of bytes sent per day, one bar per destination region (SVG, no chart library needed). */
function TrafficChart({ rows, source }: { rows: UsageRow[]; source: string }) {
  const days = [...new Set(rows.map((r) => r.day))].sort();
  const dests = [...new Set(rows.map((r) => r.dest_region ?? ''))].sort();
  const max = Math.max(1, ...rows.map((r) => r.bytes));
  const colors = ['#4c6ef5', '#12b886', '#fab005', '#e64980', '#15aabf'];
  const barWidth = 18;
  const groupWidth = dests.length * barWidth + 24;
  const height = 160;
  return (
    <figure style={{ margin: 0 }}>
      <svg
        role="img"
        aria-label={`Bytes sent from ${source} per day and destination`}
        width={Math.max(320, days.length * groupWidth + 40)}
        height={height + 40}
      >
        {days.map((day, d) =>
          dests.map((dest, i) => {
            const bytes = rows.find((r) => r.day === day && (r.dest_region ?? '') === dest)?.bytes ?? 0;
            const h = Math.max(1, (bytes / max) * height);
            return (
              <rect
                key={`${day}-${dest}`}
                x={20 + d * groupWidth + i * barWidth}
                y={height - h + 10}
                width={barWidth - 4}
                height={h}
                fill={colors[i % colors.length]}
              >
                <title>{`${day} ${source} → ${dest}: ${formatBytes(bytes)}`}</title>
              </rect>
            );
          }),
        )}
        {days.map((day, d) => (
          <text key={day} x={20 + d * groupWidth} y={height + 28} fontSize="11">
            {day}
          </text>
        ))}
      </svg>
      <figcaption>
        {dests.map((dest, i) => (
          <Text key={dest} span size="xs" mr="md" c={colors[i % colors.length]}>
            ■ {source} → {dest}
          </Text>
        ))}
      </figcaption>
    </figure>
  );
}

export function UsagePage({ region }: { region: Region; regions: Region[]; me: WhoAmI }) {
  const [rows, setRows] = useState<UsageRow[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    call<{ usage: UsageRow[] }>(region.endpoint, '/v1/usage').then(
      (a) => setRows(a.usage),
      (e: Error) => setError(e.message),
    );
  }, [region.endpoint]);

  const traffic = rows?.filter((r) => r.kind === 'transfer') ?? [];
  return (
    <Stack>
      <Title order={4}>Traffic from {region.name}</Title>
      {error && (
        <Alert color="red" role="alert">
          {error}
        </Alert>
      )}
      {rows && traffic.length === 0 && (
        <Text c="dimmed">No image was replicated from {region.name} yet.</Text>
      )}
      {traffic.length > 0 && <TrafficChart rows={traffic} source={region.name} />}
      <Title order={4}>Per day</Title>
      <Table striped data-testid="usage-table">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Day</Table.Th>
            <Table.Th>Kind</Table.Th>
            <Table.Th>Region pair</Table.Th>
            <Table.Th>Bytes</Table.Th>
            <Table.Th>Cost</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {(rows ?? []).map((r) => (
            <Table.Tr key={`${r.day}-${r.kind}-${r.dest_region ?? ''}`}>
              <Table.Td>{r.day}</Table.Td>
              <Table.Td>{KIND[r.kind]}</Table.Td>
              <Table.Td>{r.dest_region ? `${region.name} → ${r.dest_region}` : '—'}</Table.Td>
              <Table.Td>{formatBytes(r.bytes)}</Table.Td>
              <Table.Td>{r.cost.toFixed(6)}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Stack>
  );
}
