/**
 * "More > Replicate" for one image: the dialog of Table 2. Within the region it is an in-region copy
 * (`POST /v1/cloudimages/{id}/copy`); across regions `POST /v1/cloudimages/{id}/cross_region_copy` with the
 * destination, its project, the agency, a vault for a whole-server image and the description. OK stays
 * disabled until the disclaimer is ticked; a refusal shows the API's own message.
 */
import { Alert, Modal, SegmentedControl, Select, Stack, Text, TextInput } from '@mantine/core';
import { useState, type FormEvent } from 'react';
import { call, type Image, type Region, type WhoAmI } from '../api';
import { defaultCopyName, typeWord } from '../format';
import {
  AgencySelect,
  CROSS_COPY_CBR_POLICY,
  CROSS_COPY_POLICY,
  ReplicateFooter,
  refusalText,
  useDestinationChoices,
} from './destination';

interface Props {
  image: Image;
  region: Region;
  regions: Region[];
  me: WhoAmI;
  onClose: () => void;
  onStarted: (message: string) => void;
}

export function ReplicateDialog({ image, region, regions, onClose, onStarted }: Props) {
  const wholeServer = image.image_type === 'full-server';
  const targets = regions.filter((r) => region.replicates_to.includes(r.name));
  const acrossReason =
    targets.length === 0
      ? `${region.name} does not replicate to other regions (the catalog allows none).`
      : null;
  const withinReason = wholeServer ? 'A whole-server image is not copied within its region.' : null;
  const [mode, setMode] = useState<'within' | 'across'>(acrossReason ? 'within' : 'across');
  const [name, setName] = useState(defaultCopyName(region.name, image.name));
  const [destName, setDestName] = useState<string | null>(targets[0]?.name ?? null);
  const dest = targets.find((r) => r.name === destName);
  const destination = useDestinationChoices(
    mode === 'across' ? dest : undefined,
    wholeServer,
    region.endpoint,
  );
  const { agencies, project, setProject, vault, setVault, agency, setAgency } = destination;
  const [description, setDescription] = useState('');
  const [agreed, setAgreed] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const nameError =
    name.trim().length === 0 ? 'Give a name.' : name.length > 128 ? 'At most 128 characters.' : null;
  const ready =
    agreed &&
    nameError === null &&
    (mode === 'within' ||
      (dest !== undefined && project !== null && agency !== null && (!wholeServer || vault !== null)));

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!ready) return;
    setBusy(true);
    setError(null);
    try {
      if (mode === 'within') {
        const answer = await call<{ job_id: string }>(region.endpoint, `/v1/cloudimages/${image.id}/copy`, {
          method: 'POST',
          json: { name, ...(description ? { description } : {}) },
        });
        onStarted(`Copying ${image.name ?? image.id} within ${region.name} (job ${answer.job_id}).`);
      } else {
        const answer = await call<{ job_id: string }>(
          region.endpoint,
          `/v1/cloudimages/${image.id}/cross_region_copy`,
          {
            method: 'POST',
            json: {
              region: dest!.name,
              name,
              project_name: project,
              agency_name: agency,
              ...(wholeServer ? { vault_id: vault } : {}),
              ...(description ? { description } : {}),
            },
          },
        );
        onStarted(
          `Replicating ${image.name ?? image.id} to ${dest!.name} (job ${answer.job_id}). Switch to ${dest!.name} to watch it.`,
        );
      }
    } catch (e) {
      setError(refusalText(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Modal opened onClose={onClose} title="Replicate Image" size="lg">
      <form onSubmit={submit}>
        <Stack>
          <Text size="sm">
            {image.name ?? image.id} · {typeWord(image.image_type)} · {region.name}
          </Text>
          <div>
            <Text size="sm" fw={500} mb={4} id="mode-label">
              Replication mode
            </Text>
            <SegmentedControl
              aria-labelledby="mode-label"
              value={mode}
              onChange={(v) => setMode(v as 'within' | 'across')}
              data={[
                { value: 'within', label: 'Within region', disabled: withinReason !== null },
                { value: 'across', label: 'Across regions', disabled: acrossReason !== null },
              ]}
            />
            {(acrossReason || withinReason) && (
              <Text size="xs" c="dimmed" mt={4}>
                {acrossReason ?? withinReason}
              </Text>
            )}
          </div>
          <TextInput
            label="Name"
            required
            maxLength={128}
            value={name}
            error={nameError}
            onChange={(e) => setName(e.currentTarget.value)}
          />
          {mode === 'across' && (
            <>
              <Select
                label="Destination region"
                required
                allowDeselect={false}
                data={targets.map((r) => ({ value: r.name, label: `${r.display_name} (${r.name})` }))}
                value={destName}
                onChange={setDestName}
              />
              <Select
                label="Destination project"
                required
                placeholder={destination.projects ? 'Choose a project' : 'Loading…'}
                data={(destination.projects ?? []).map((p) => ({ value: p.name, label: p.name }))}
                value={project}
                onChange={setProject}
              />
              {wholeServer && (
                <Select
                  label="Server backup vault"
                  required
                  placeholder={
                    destination.vaults?.length === 0
                      ? `No vault of protection type Replication in ${destName}: create one there`
                      : 'Choose a vault'
                  }
                  data={(destination.vaults ?? []).map((v) => ({
                    value: v.id,
                    label: `${v.name} (${v.id.slice(0, 8)}…)`,
                  }))}
                  value={vault}
                  onChange={setVault}
                />
              )}
              <AgencySelect
                agencies={agencies}
                value={agency}
                onChange={setAgency}
                policy={wholeServer ? CROSS_COPY_CBR_POLICY : CROSS_COPY_POLICY}
                regions={dest ? [dest.name] : []}
              />
              {destination.error && <Alert color="orange">{destination.error}</Alert>}
            </>
          )}
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
    </Modal>
  );
}
