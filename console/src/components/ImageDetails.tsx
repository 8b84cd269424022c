/** The details drawer: every field of an image, its tags and properties, its members, and where a replica came from. */
import { Badge, Drawer, Group, Stack, Table, Text, Title } from '@mantine/core';
import { useEffect, useState } from 'react';
import { call, type Image, type Member, type Region, type WhoAmI } from '../api';
import { formatBytes, formatTime, statusWord, typeWord } from '../format';

const FIELDS = new Set([
  'id',
  'name',
  'status',
  'visibility',
  'protected',
  'os_hidden',
  'checksum',
  'os_hash_algo',
  'os_hash_value',
  'owner',
  'size',
  'virtual_size',
  'min_disk',
  'min_ram',
  'container_format',
  'disk_format',
  'created_at',
  'updated_at',
  'tags',
  'image_type',
  'encrypted',
  'cmk_id',
  'frozen',
  'replication',
  'self',
  'file',
  'schema',
]);

export function ImageDetails({
  image,
  region,
  me,
  onClose,
}: {
  image: Image;
  region: Region;
  me: WhoAmI;
  onClose: () => void;
}) {
  const [members, setMembers] = useState<Member[] | null>(null);
  useEffect(() => {
    if (image.visibility !== 'shared') return;
    call<{ members: Member[] }>(region.endpoint, `/v2/images/${image.id}/members`).then(
      (a) => setMembers(a.members),
      () => setMembers([]),
    );
  }, [image, region.endpoint]);

  const rows: Array<[string, string]> = [
    ['Name', image.name ?? '—'],
    ['ID', image.id],
    ['Status', `${statusWord(image)} (${image.status})`],
    ['Type', typeWord(image.image_type)],
    ['Disk format', image.disk_format ?? '—'],
    ['Container format', image.container_format ?? '—'],
    ['Size', formatBytes(image.size)],
    ['Virtual size', formatBytes(image.virtual_size)],
    ['Visibility', image.visibility],
    ['Owner', image.owner === me.project.id ? `${image.owner} (you)` : image.owner],
    ['Checksum (MD5)', image.checksum ?? '—'],
    ['Minimum disk', `${image.min_disk} GiB`],
    ['Minimum RAM', `${image.min_ram} MiB`],
    ['Protected', image.protected ? 'yes' : 'no'],
    ['Encrypted', image.encrypted ? 'yes' : 'no'],
    ['Frozen', image.frozen ? 'yes' : 'no'],
    ['Created', formatTime(image.created_at)],
    ['Updated', formatTime(image.updated_at)],
  ];
  if (image.replication) {
    rows.push(['Source region', image.replication.source_region ?? '—']);
    rows.push(['Source image', image.replication.source_image_id ?? '—']);
    rows.push(['Replication job', image.replication.job_id]);
  }
  const properties = Object.entries(image).filter(([k, v]) => !FIELDS.has(k) && typeof v === 'string');

  return (
    <Drawer opened onClose={onClose} position="right" size="lg" title={image.name ?? image.id}>
      <Stack>
        <Table data-testid="image-details">
          <Table.Tbody>
            {rows.map(([label, value]) => (
              <Table.Tr key={label}>
                <Table.Th w={160}>{label}</Table.Th>
                <Table.Td style={{ wordBreak: 'break-all' }}>{value}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
        <Title order={5}>Tags</Title>
        <Group gap="xs">
          {image.tags.length === 0 ? (
            <Text c="dimmed">No tags.</Text>
          ) : (
            image.tags.map((t) => <Badge key={t}>{t}</Badge>)
          )}
        </Group>
        <Title order={5}>Properties</Title>
        {properties.length === 0 ? (
          <Text c="dimmed">No properties.</Text>
        ) : (
          <Table>
            <Table.Tbody>
              {properties.map(([k, v]) => (
                <Table.Tr key={k}>
                  <Table.Th w={160}>{k}</Table.Th>
                  <Table.Td>{String(v)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
        <Title order={5}>Members</Title>
        {image.visibility !== 'shared' ? (
          <Text c="dimmed">Only a shared image has members.</Text>
        ) : members === null ? (
          <Text c="dimmed">Loading…</Text>
        ) : members.length === 0 ? (
          <Text c="dimmed">Shared with nobody yet.</Text>
        ) : (
          <Table>
            <Table.Tbody>
              {members.map((m) => (
                <Table.Tr key={m.member_id}>
                  <Table.Td>{m.member_id}</Table.Td>
                  <Table.Td>{m.status}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Stack>
    </Drawer>
  );
}
