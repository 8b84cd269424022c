/**
 * What both Replicate dialogs ask of a destination (Tables 2 and 3 of the product document): its projects,
 * loaded from that region as it is chosen; its vaults of protection type replication (whole-server images);
 * and the account's agencies, each shown with whether it holds the policy the copy needs there.
 */
import { Alert, Button, Checkbox, Group, Select, Text, Textarea } from '@mantine/core';
import { useEffect, useRef, useState } from 'react';
import { call, type Agency, type Project, type Region, type Vault } from '../api';

export const CROSS_COPY_POLICY = 'CrossCopyAgencyPolicy';
export const CROSS_COPY_CBR_POLICY = 'CrossCopyAgencyCBRPolicy';

/** The projects and replication vaults of `region`, loaded when it is chosen. */
export function useDestination(region: Region | undefined, wantVaults: boolean) {
  const [projects, setProjects] = useState<Project[] | null>(null);
  const [vaults, setVaults] = useState<Vault[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setProjects(null);
    setVaults(null);
    setError(null);
    if (!region) return;
    call<{ projects: Project[] }>(region.endpoint, '/v1/projects').then(
      (a) => setProjects(a.projects),
      (e: Error) => setError(`The projects of ${region.name} cannot be loaded: ${e.message}`),
    );
    if (wantVaults) {
      call<{ vaults: Vault[] }>(region.endpoint, '/v1/vaults').then(
        (a) => setVaults(a.vaults.filter((v) => v.protection_type === 'replication')),
        (e: Error) => setError(`The vaults of ${region.name} cannot be loaded: ${e.message}`),
      );
    }
  }, [region, wantVaults]);
  return { projects, vaults, error };
}

/**
 * What a dialog chooses for a destination, with the defaults a console offers: the project named after the
 * region (as public clouds name them) or the first, the first replication vault, the first agency.
 */
export function useDestinationChoices(
  region: Region | undefined,
  wholeServer: boolean,
  sourceEndpoint: string,
) {
  const destination = useDestination(region, wholeServer);
  const agencies = useAgencies(sourceEndpoint);
  const [project, setProject] = useState<string | null>(null);
  const [vault, setVault] = useState<string | null>(null);
  const [agency, setAgency] = useState<string | null>(null);
  useEffect(() => {
    const projects = destination.projects;
    setProject(
      projects ? ((projects.find((p) => p.name === region?.name) ?? projects[0])?.name ?? null) : null,
    );
  }, [destination.projects, region]);
  useEffect(() => setVault(destination.vaults?.[0]?.id ?? null), [destination.vaults]);
  useEffect(() => {
    if (agencies && agency === null) setAgency(agencies[0]?.name ?? null);
  }, [agencies, agency]);
  return { ...destination, agencies, project, setProject, vault, setVault, agency, setAgency };
}

/** The end of both dialogs: description, disclaimer (OK waits for it), the API's refusal, Cancel and OK. */
export function ReplicateFooter(props: {
  description: string;
  onDescription: (value: string) => void;
  agreed: boolean;
  onAgreed: (value: boolean) => void;
  error: string | null;
  ready: boolean;
  busy: boolean;
  onClose: () => void;
}) {
  // OK is disabled while the request runs, which drops the keyboard focus; a refusal takes it, so that it is
  // read out and the keyboard stays in the dialog.
  const refusal = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (props.error) refusal.current?.focus();
  }, [props.error]);
  return (
    <>
      <Textarea
        label="Description"
        maxLength={1024}
        autosize
        minRows={2}
        value={props.description}
        onChange={(e) => props.onDescription(e.currentTarget.value)}
      />
      <Checkbox
        label={DISCLAIMER}
        checked={props.agreed}
        onChange={(e) => props.onAgreed(e.currentTarget.checked)}
      />
      {props.error && (
        <Alert ref={refusal} tabIndex={-1} color="red" role="alert" title="Refused" data-testid="api-error">
          {props.error}
        </Alert>
      )}
      <Group justify="flex-end">
        <Button variant="default" onClick={props.onClose}>
          Cancel
        </Button>
        <Button type="submit" disabled={!props.ready} loading={props.busy}>
          OK
        </Button>
      </Group>
    </>
  );
}

/** The API's refusal as a dialog shows it: its message and code. */
export function refusalText(e: unknown): string {
  return e instanceof Error ? `${e.message}${'code' in e ? ` (${String(e.code)})` : ''}` : String(e);
}

export function useAgencies(endpoint: string) {
  const [agencies, setAgencies] = useState<Agency[] | null>(null);
  useEffect(() => {
    call<{ agencies: Agency[] }>(endpoint, '/v1/agencies').then(
      (a) => setAgencies(a.agencies),
      () => setAgencies([]),
    );
  }, [endpoint]);
  return agencies;
}

/** Whether `agency` holds `policy` in every one of `regions`. */
export function holds(agency: Agency, policy: string, regions: string[]): boolean {
  return regions.every((r) => agency.policies.some((p) => p.region === r && p.policy === policy));
}

export function AgencySelect({
  agencies,
  value,
  onChange,
  policy,
  regions,
}: {
  agencies: Agency[] | null;
  value: string | null;
  onChange: (value: string | null) => void;
  policy: string;
  regions: string[];
}) {
  const chosen = agencies?.find((a) => a.name === value);
  return (
    <div>
      <Select
        label="IAM agency"
        required
        placeholder={agencies?.length === 0 ? 'Your account has no agency' : 'Choose an agency'}
        data={(agencies ?? []).map((a) => ({
          value: a.name,
          label: `${a.name}${regions.length > 0 ? (holds(a, policy, regions) ? ' — has the permission' : ' — lacks the permission') : ''}`,
        }))}
        value={value}
        onChange={onChange}
      />
      {chosen && regions.length > 0 && (
        <Text
          size="xs"
          c={holds(chosen, policy, regions) ? 'dimmed' : 'orange'}
          mt={4}
          data-testid="agency-permission"
        >
          {holds(chosen, policy, regions)
            ? `${chosen.name} holds ${policy} in ${regions.join(', ')}.`
            : `${chosen.name} does not hold ${policy} in ${regions.join(', ')}: the replication will be refused.`}
        </Text>
      )}
    </div>
  );
}

export const DISCLAIMER =
  'I have read and agree to the disclaimer: the replica is a new image in the destination region, billed there; ' +
  'replication takes a while, depending on the image size, the network and the jobs running.';
