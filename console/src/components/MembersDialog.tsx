/**
 * Sharing an image the viewer owns: its members with their answers, adding a project of this region and
 * removing one. A private image is made shared first (Glance gives members only to shared images).
 */
import { Alert, Button, Group, Modal, Stack, Table, Text, TextInput } from '@mantine/core';
import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { call, type Image, type Member, type Region } from '../api';

export function MembersDialog({
  image,
  region,
  onClose,
}: {
  image: Image;
  region: Region;
  onClose: () => void;
}) {
  const [members, setMembers] = useState<Member[]>([]);
  const [visibility, setVisibility] = useState(image.visibility);
  const [project, setProject] = useState('');
  const [error, setError] = useState<string | null>(null);

  // The list as the latest read gives it: a read that started earlier (the one the dialog made when the image
  // became shared) may answer after the read that follows an addition, and must not put the old list back.
  const reads = useRef(0);
  const load = useCallback(async () => {
    const read = ++reads.current;
    const answer = await call<{ members: Member[] }>(region.endpoint, `/v2/images/${image.id}/members`);
    if (read === reads.current) setMembers(answer.members);
  }, [image.id, region.endpoint]);

  useEffect(() => {
    if (visibility === 'shared') load().catch((e: Error) => setError(e.message));
  }, [load, visibility]);

  async function add(event: FormEvent) {
    event.preventDefault();
    setError(null);
    try {
      if (visibility !== 'shared') {
        await call(region.endpoint, `/v2/images/${image.id}`, {
          method: 'PATCH',
          json: [{ op: 'replace', path: '/visibility', value: 'shared' }],
          headers: { 'content-type': 'application/openstack-images-v2.1-json-patch' },
        });
        setVisibility('shared');
      }
      await call(region.endpoint, `/v2/images/${image.id}/members`, {
        method: 'POST',
        json: { member: project.trim() },
      });
      setProject('');
      await load();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }

  async function remove(member: string) {
    setError(null);
    try {
      await call(region.endpoint, `/v2/images/${image.id}/members/${member}`, { method: 'DELETE' });
      await load();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }

  return (
    <Modal opened onClose={onClose} title={`Share ${image.name ?? image.id}`} size="lg">
      <Stack>
        {members.length === 0 ? (
          <Text c="dimmed">Shared with nobody yet.</Text>
        ) : (
          <Table data-testid="members">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Project</Table.Th>
                <Table.Th>Answer</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {members.map((m) => (
                <Table.Tr key={m.member_id}>
                  <Table.Td ff="monospace">{m.member_id}</Table.Td>
                  <Table.Td>{m.status}</Table.Td>
                  <Table.Td>
                    <Button size="xs" variant="subtle" color="red" onClick={() => void remove(m.member_id)}>
                      Remove
                    </Button>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
        <form onSubmit={add}>
          <Group align="end">
            <TextInput
              label="Project ID to share with"
              description={`A project of ${region.name}`}
              value={project}
              onChange={(e) => setProject(e.currentTarget.value)}
              style={{ flex: 1 }}
            />
            <Button type="submit" disabled={project.trim() === ''}>
              Add member
            </Button>
          </Group>
        </form>
        {error && (
          <Alert color="red" role="alert">
            {error}
          </Alert>
        )}
      </Stack>
    </Modal>
  );
}
