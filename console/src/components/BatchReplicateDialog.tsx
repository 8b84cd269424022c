/**
 * The list's Replicate button for several images: the dialog of Table 3. It names, before OK, each selected
 * image that cannot be replicated and why; OK sends the others in one request
 * (`POST /v1/cloudimages/cross_region_copy`), and the answer lists each job started and each refusal.
 */
import { Alert, Badge, Button, Group, Modal, MultiSelect, Select, Stack, Table, Text } from '@mantine/core';
import { useState, type FormEvent } from 'react';
import { call, type Image, type Refusal, type Region, type StartedJob, type WhoAmI } from '../api';
import { ineligibility } from '../format';
import {
  AgencySelect,
  CROSS_COPY_CBR_POLICY,
  CROSS_COPY_POLICY,
  ReplicateFooter,
  refusalText,
  useDestinationChoices,
} from './destination';

interface Props {
  images: Image[];
  region: Region;
  regions: Region[];
  me: WhoAmI;
  maxBytes: number | undefined;
  onClose: () => void;
  onDone: () => void;
}

export function BatchReplicateDialog({ images, region, regions, me, maxBytes, onClose, onDone }: Props) {
  const targets = regions.filter((r) => region.replicates_to.includes(r.name));
  const reasons = new Map(images.map((i) => [i.id, ineligibility(i, me.project.id, maxBytes)]));
  const eligible = images.filter((i) => reasons.get(i.id) === null);
  const wholeServer = eligible.some((i) => i.image_type === 'full-server');
  const [destNames, setDestNames] = useState<string[]>(targets[0] ? [targets[0].name] : []);
  const single = destNames.length === 1 ? targets.find((r) => r.name === destNames[0]) : undefined;
  const destination = useDestinationChoices(single, wholeServer, region.endpoint);
  const { agencies, project, setProject, vault, setVault, agency, setAgency } = destination;
  const [description, setDescription] = useState('');
  const [agreed, setAgreed] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ jobs: StartedJob[]; refused: Refusal[] } | null>(null);

  const ready =
    agreed &&
    eligible.length > 0 &&
    destNames.length > 0 &&
    agency !== null &&
    (!single || project !== null) &&
    (!wholeServer || (single !== undefined && vault !== null));

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!ready) return;
    setBusy(true);
    setError(null);
    try {
      const answer = await call<{ jobs: StartedJob[]; refused: Refusal[] }>(
        region.endpoint,
        '/v1/cloudimages/cross_region_copy',
        {
          method: 'POST',
          json: {
            image_ids: eligible.map((i) => i.id),
            regions: destNames,
            agency_name: agency,
            ...(single && project ? { project_name: project } : {}),
            ...(wholeServer && vault ? { vault_id: vault } : {}),
            ...(description ? { description } : {}),
          },
        },
      );
      setResult(answer);
      onDone();
    } catch (e) {
      setError(refusalText(e));
    } finally {
      setBusy(false);
    }
  }

  const nameOf = (id: string) => images.find((i) => i.id === id)?.name ?? id;

  return (
    <Modal opened onClose={onClose} title="Replicate Images Across Regions" size="xl">
      {result ? (
        <Stack data-testid="batch-result">
          <Text>
            {result.jobs.length} replication{result.jobs.length === 1 ? '' : 's'} started
            {result.refused.length > 0 ? `, ${result.refused.length} refused` : ''}.
          </Text>
          <Table>
            <Table.Tbody>
              {result.jobs.map((j) => (
                <Table.Tr key={j.job_id}>
                  <Table.Td>{nameOf(j.image_id)}</Table.Td>
                  <Table.Td>{j.region}</Table.Td>
                  <Table.Td>
                    <Badge color="blue">job {j.job_id.slice(0, 8)}…</Badge>
                  </Table.Td>
                </Table.Tr>
              ))}
              {result.refused.map((r) => (
                <Table.Tr key={`${r.image_id}-${r.region}`}>
                  <Table.Td>{nameOf(r.image_id)}</Table.Td>
                  <Table.Td>{r.region}</Table.Td>
                  <Table.Td>
                    <Text c="red" size="sm">
                      {r.error.message}
                    </Text>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
          <Group justify="flex-end">
            <Button onClick={onClose}>Close</Button>
          </Group>
        </Stack>
      ) : (
        <form onSubmit={submit}>
          <Stack>
            <Table data-testid="selected-images">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Image</Table.Th>
                  <Table.Th>Can it be replicated?</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {images.map((i) => (
                  <Table.Tr key={i.id} data-image-id={i.id}>
                    <Table.Td>{i.name ?? i.id}</Table.Td>
                    <Table.Td>
                      {reasons.get(i.id) === null ? (
                        <Badge color="green">Yes</Badge>
                      ) : (
                        <Text size="sm" c="red" data-testid="ineligible-reason">
                          {reasons.get(i.id)}
                        </Text>
                      )}
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
            <MultiSelect
              label="Destination regions"
              required
              data={targets.map((r) => ({ value: r.name, label: `${r.display_name} (${r.name})` }))}
              value={destNames}
              onChange={setDestNames}
            />
            {single ? (
              <Select
                label="Destination project"
                required
                placeholder={destination.projects ? 'Choose a project' : 'Loading…'}
                data={(destination.projects ?? []).map((p) => ({ value: p.name, label: p.name }))}
                value={project}
                onChange={setProject}
              />
            ) : (
              destNames.length > 1 && (
                <Text size="xs" c="dimmed">
                  With several regions, each replica goes to the project named after its region.
                </Text>
              )
            )}
            {wholeServer && (
              <Select
                label="Server backup vault"
                required
                disabled={!single}
                placeholder={
                  single
                    ? 'Choose a vault of protection type Replication'
                    : 'Choose one region for whole-server images'
                }
                data={(destination.vaults ?? []).map((v) => ({ value: v.id, label: v.name }))}
                value={vault}
                onChange={setVault}
              />
            )}
            <AgencySelect
              agencies={agencies}
              value={agency}
              onChange={setAgency}
              policy={wholeServer ? CROSS_COPY_CBR_POLICY : CROSS_COPY_POLICY}
              regions={destNames}
            />
            {destination.error && <Alert color="orange">{destination.error}</Alert>}
            <ReplicateFooter
              description={description}
              onDescription={setDescription}
              agreed={agreed}
              onAgreed={setAgreed}
              error={error}
              ready={ready}
              busy={busy}
              onClose={onClose}
            />
          </Stack>
        </form>
      )}
    </Modal>
  );
}
