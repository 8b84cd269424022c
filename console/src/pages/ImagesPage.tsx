/**
 * The image list of one region: tabs for the viewer's private images, images shared with the viewer and
 * images the viewer shares; search by name, sort, pages; the seeds' status words with a live progress bar
 * for a replica arriving; per row "More" (Replicate, Share, Download, Details, Delete); and, for several
 * selected images, the toolbar's Replicate (the dialog of Table 3).
 */
import {
  ActionIcon,
  Alert,
  Badge,
  Button,
  Checkbox,
  CopyButton,
  Group,
  Menu,
  Progress,
  Select,
  Stack,
  Table,
  Tabs,
  Text,
  TextInput,
  Tooltip,
  UnstyledButton,
} from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useCallback, useEffect, useMemo, useState } from 'react';
import { call, session, type Image, type Limits, type Member, type Region, type WhoAmI } from '../api';
import { BatchReplicateDialog } from '../components/BatchReplicateDialog';
import { ImageDetails } from '../components/ImageDetails';
import { MembersDialog } from '../components/MembersDialog';
import { ReplicateDialog } from '../components/ReplicateDialog';
import { UploadDialog } from '../components/UploadDialog';
import { STATUS_COLOR, formatBytes, formatTime, ineligibility, statusWord, typeWord } from '../format';

export type ImageTab = 'private' | 'shared-with-me' | 'i-share';
type SortKey = 'name' | 'status' | 'size' | 'created_at' | 'disk_format';

interface Props {
  region: Region;
  regions: Region[];
  me: WhoAmI;
}

const PAGE_SIZES = ['10', '25', '50', '100'];

export function ImagesPage({ region, regions, me }: Props) {
  const [tab, setTab] = useState<ImageTab>('private');
  const [search, setSearch] = useState('');
  const [query] = useDebouncedValue(search.trim(), 300);
  const [sort, setSort] = useState<{ key: SortKey; dir: 'asc' | 'desc' }>({ key: 'created_at', dir: 'desc' });
  const [pageSize, setPageSize] = useState('25');
  const [markers, setMarkers] = useState<string[]>([]);
  const [page, setPage] = useState<{ images: Image[]; hasNext: boolean } | null>(null);
  const [memberships, setMemberships] = useState<Record<string, Member>>({});
  const [error, setError] = useState<string | null>(null);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [limits, setLimits] = useState<Limits | null>(null);
  const [replicating, setReplicating] = useState<Image | null>(null);
  const [batch, setBatch] = useState<Image[] | null>(null);
  const [details, setDetails] = useState<Image | null>(null);
  const [sharing, setSharing] = useState<Image | null>(null);
  const [uploading, setUploading] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const projectId = me.project.id;

  useEffect(() => {
    call<Limits>(region.endpoint, '/v1/limits').then(setLimits, () => setLimits(null));
  }, [region.endpoint]);

  // A new tab, search, sort or page size starts again at the first page.
  useEffect(() => {
    setMarkers([]);
    setSelected(new Set());
  }, [tab, query, sort, pageSize]);

  const load = useCallback(async () => {
    const params = new URLSearchParams();
    if (tab === 'private') params.set('owner', projectId);
    if (tab === 'i-share') {
      params.set('visibility', 'shared');
      params.set('owner', projectId);
    }
    if (tab === 'shared-with-me') {
      params.set('visibility', 'shared');
      params.set('member_status', 'all');
      params.set('owner', `neq:${projectId}`);
    }
    if (query) params.set('name', `contains:${query}`);
    params.set('sort', `${sort.key}:${sort.dir}`);
    params.set('limit', pageSize);
    const marker = markers.at(-1);
    if (marker) params.set('marker', marker);
    try {
      const answer = await call<{ images: Image[]; next?: string }>(region.endpoint, `/v2/images?${params}`);
      setPage({ images: answer.images, hasNext: answer.next !== undefined });
      setError(null);
      if (tab === 'shared-with-me') {
        const answers = await Promise.all(
          answer.images.map((image) =>
            call<Member>(region.endpoint, `/v2/images/${image.id}/members/${projectId}`).catch(() => null),
          ),
        );
        setMemberships(Object.fromEntries(answers.filter((m) => m !== null).map((m) => [m!.image_id, m!])));
      }
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }, [region.endpoint, tab, query, sort, pageSize, markers, projectId]);

  useEffect(() => {
    void load();
  }, [load]);

  // While an image is on its way (uploading, replicating), the list refreshes itself.
  const busy =
    page?.images.some((i) => ['Replicating', 'Saving', 'Creating'].includes(statusWord(i))) ?? false;
  useEffect(() => {
    if (!busy) return;
    const timer = setInterval(() => void load(), 2000);
    return () => clearInterval(timer);
  }, [busy, load]);

  const images = page?.images ?? [];
  const chosen = useMemo(() => images.filter((i) => selected.has(i.id)), [images, selected]);
  const eligible = chosen.filter(
    (i) => ineligibility(i, projectId, limits?.max_replication_image_bytes) === null,
  );

  function toggle(id: string) {
    setSelected((s) => {
      const next = new Set(s);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  }

  function sortBy(key: SortKey) {
    setSort((s) => ({ key, dir: s.key === key && s.dir === 'asc' ? 'desc' : 'asc' }));
  }

  const header = (key: SortKey, label: string) => (
    <Table.Th aria-sort={sort.key === key ? (sort.dir === 'asc' ? 'ascending' : 'descending') : 'none'}>
      <UnstyledButton onClick={() => sortBy(key)} fw={600} fz="sm">
        {label} {sort.key === key ? (sort.dir === 'asc' ? '▲' : '▼') : ''}
      </UnstyledButton>
    </Table.Th>
  );

  async function download(image: Image) {
    setNotice(null);
    try {
      const response = await fetch(`${region.endpoint}/v2/images/${image.id}/file`, {
        headers: { 'x-auth-token': session.token() ?? '' },
      });
      if (!response.ok) throw new Error(`The download was refused (HTTP ${response.status}).`);
      const url = URL.createObjectURL(await response.blob());
      const link = document.createElement('a');
      link.href = url;
      link.download = `${image.name ?? image.id}.${image.disk_format ?? 'img'}`;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (e) {
      setNotice(e instanceof Error ? e.message : String(e));
    }
  }

  async function remove(image: Image) {
    if (!window.confirm(`Delete image ${image.name ?? image.id}? This cannot be undone.`)) return;
    try {
      await call(region.endpoint, `/v2/images/${image.id}`, { method: 'DELETE' });
      await load();
    } catch (e) {
      setNotice(e instanceof Error ? e.message : String(e));
    }
  }

  async function answer(image: Image, status: 'accepted' | 'rejected') {
    try {
      await call(region.endpoint, `/v2/images/${image.id}/members/${projectId}`, {
        method: 'PUT',
        json: { status },
      });
      await load();
    } catch (e) {
      setNotice(e instanceof Error ? e.message : String(e));
    }
  }

  const replicateTooltip =
    chosen.length === 0
      ? 'Select images to replicate'
      : eligible.length === 0
        ? 'None of the selected images can be replicated'
        : null;

  return (
    <Stack>
      <Group justify="space-between">
        <Tabs value={tab} onChange={(v) => v && setTab(v as ImageTab)}>
          <Tabs.List>
            <Tabs.Tab value="private">Private images</Tabs.Tab>
            <Tabs.Tab value="shared-with-me">Shared with me</Tabs.Tab>
            <Tabs.Tab value="i-share">Images I share</Tabs.Tab>
          </Tabs.List>
        </Tabs>
        <Group>
          <TextInput
            aria-label="Search by name"
            placeholder="Search by name"
            value={search}
            onChange={(e) => setSearch(e.currentTarget.value)}
            w={220}
          />
          <Tooltip label={replicateTooltip ?? ''} disabled={replicateTooltip === null}>
            {/* A disabled button shows no tooltip of its own: the wrapper does. */}
            <span>
              <Button disabled={replicateTooltip !== null} onClick={() => setBatch(chosen)}>
                Replicate
              </Button>
            </span>
          </Tooltip>
          <Button variant="default" onClick={() => setUploading(true)}>
            Upload image
          </Button>
        </Group>
      </Group>

      {error && (
        <Alert color="red" role="alert" title="The list could not be loaded">
          {error}
        </Alert>
      )}
      {notice && (
        <Alert color="orange" role="alert" withCloseButton onClose={() => setNotice(null)}>
          {notice}
        </Alert>
      )}

      <Table striped highlightOnHover verticalSpacing="xs" data-testid="image-table">
        <Table.Thead>
          <Table.Tr>
            <Table.Th w={40}>
              <Checkbox
                aria-label="Select all on this page"
                checked={images.length > 0 && chosen.length === images.length}
                indeterminate={chosen.length > 0 && chosen.length < images.length}
                onChange={(e) =>
                  setSelected(e.currentTarget.checked ? new Set(images.map((i) => i.id)) : new Set())
                }
              />
            </Table.Th>
            {header('name', 'Name')}
            <Table.Th>ID</Table.Th>
            {header('status', 'Status')}
            <Table.Th>Type</Table.Th>
            {header('disk_format', 'Disk format')}
            {header('size', 'Size')}
            {header('created_at', 'Created')}
            <Table.Th w={90}>Actions</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {images.map((image) => {
            const word = statusWord(image);
            const membership = memberships[image.id];
            return (
              <Table.Tr key={image.id} data-image-id={image.id}>
                <Table.Td>
                  <Checkbox
                    aria-label={`Select ${image.name ?? image.id}`}
                    checked={selected.has(image.id)}
                    onChange={() => toggle(image.id)}
                  />
                </Table.Td>
                <Table.Td>
                  <UnstyledButton onClick={() => setDetails(image)} c="indigo" fz="sm">
                    {image.name ?? '(no name)'}
                  </UnstyledButton>
                </Table.Td>
                <Table.Td>
                  <CopyButton value={image.id}>
                    {({ copied, copy }) => (
                      <Tooltip label={copied ? 'Copied' : 'Copy the ID'}>
                        <UnstyledButton
                          onClick={copy}
                          ff="monospace"
                          fz="xs"
                          aria-label={`Copy ID ${image.id}`}
                        >
                          {image.id.slice(0, 8)}…
                        </UnstyledButton>
                      </Tooltip>
                    )}
                  </CopyButton>
                </Table.Td>
                <Table.Td data-testid="status">
                  <Stack gap={2}>
                    <Badge color={STATUS_COLOR[word]} variant="light">
                      {word}
                    </Badge>
                    {word === 'Replicating' && (
                      <Progress
                        value={Math.round((image.replication?.process_percent ?? 0) * 100)}
                        size="sm"
                        aria-label="Replication progress"
                      />
                    )}
                    {membership && (
                      <Text size="xs" c="dimmed">
                        membership: {membership.status}
                      </Text>
                    )}
                  </Stack>
                </Table.Td>
                <Table.Td>{typeWord(image.image_type)}</Table.Td>
                <Table.Td>{image.disk_format ?? '—'}</Table.Td>
                <Table.Td>{formatBytes(image.size)}</Table.Td>
                <Table.Td>{formatTime(image.created_at)}</Table.Td>
                <Table.Td>
                  <Menu position="bottom-end" withinPortal>
                    <Menu.Target>
                      <Button
                        variant="subtle"
                        size="xs"
                        aria-label={`More actions for ${image.name ?? image.id}`}
                      >
                        More
                      </Button>
                    </Menu.Target>
                    <Menu.Dropdown>
                      <Menu.Item onClick={() => setReplicating(image)}>Replicate</Menu.Item>
                      {image.owner === projectId && (
                        <Menu.Item onClick={() => setSharing(image)}>Share</Menu.Item>
                      )}
                      {tab === 'shared-with-me' && membership?.status !== 'accepted' && (
                        <Menu.Item onClick={() => void answer(image, 'accepted')}>Accept</Menu.Item>
                      )}
                      {tab === 'shared-with-me' && membership?.status !== 'rejected' && (
                        <Menu.Item onClick={() => void answer(image, 'rejected')}>Reject</Menu.Item>
                      )}
                      <Menu.Item disabled={word !== 'Normal'} onClick={() => void download(image)}>
                        Download
                      </Menu.Item>
                      <Menu.Item onClick={() => setDetails(image)}>Details</Menu.Item>
                      {image.owner === projectId && (
                        <Menu.Item color="red" onClick={() => void remove(image)}>
                          Delete
                        </Menu.Item>
                      )}
                    </Menu.Dropdown>
                  </Menu>
                </Table.Td>
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
      {page && images.length === 0 && (
        <Text c="dimmed" ta="center" py="xl" data-testid="empty">
          {query
            ? `No image's name holds “${query}”.`
            : tab === 'private'
              ? `You have no images in ${region.name} yet: upload one.`
              : tab === 'shared-with-me'
                ? 'Nobody shares an image with your project here.'
                : 'You share no images here.'}
        </Text>
      )}

      <Group justify="space-between">
        <Group gap="xs">
          <Text size="sm">Per page</Text>
          <Select
            aria-label="Images per page"
            w={80}
            data={PAGE_SIZES}
            value={pageSize}
            allowDeselect={false}
            onChange={(v) => v && setPageSize(v)}
          />
        </Group>
        <Group gap="xs">
          <Text size="sm" c="dimmed">
            Page {markers.length + 1}
          </Text>
          <ActionIcon
            variant="default"
            aria-label="Previous page"
            disabled={markers.length === 0}
            onClick={() => setMarkers((m) => m.slice(0, -1))}
          >
            ‹
          </ActionIcon>
          <ActionIcon
            variant="default"
            aria-label="Next page"
            disabled={!page?.hasNext}
            onClick={() => setMarkers((m) => [...m, images.at(-1)!.id])}
          >
            ›
          </ActionIcon>
        </Group>
      </Group>

      {replicating && (
        <ReplicateDialog
          image={replicating}
          region={region}
          regions={regions}
          me={me}
          onClose={() => setReplicating(null)}
          onStarted={(message) => {
            setReplicating(null);
            setNotice(message);
            void load();
          }}
        />
      )}
      {batch && (
        <BatchReplicateDialog
          images={batch}
          region={region}
          regions={regions}
          me={me}
          maxBytes={limits?.max_replication_image_bytes}
          onClose={() => setBatch(null)}
          onDone={() => {
            setSelected(new Set());
            void load();
          }}
        />
      )}
      {details && <ImageDetails image={details} region={region} me={me} onClose={() => setDetails(null)} />}
      {sharing && <MembersDialog image={sharing} region={region} onClose={() => setSharing(null)} />}
      {uploading && (
        <UploadDialog
          region={region}
          onClose={() => setUploading(false)}
          onUploaded={() => {
            setUploading(false);
            void load();
          }}
        />
      )}
    </Stack>
  );
}
