/**
 * Uploading an image file: the image record first (`POST /v2/images`), then its data straight to the Glance
 * upload API (`PUT /v2/images/{id}/file`) with a progress bar. The disk format is guessed from the file name
 * and can be changed; Ferry inspects the data and refuses a format that does not match.
 */
import {
  Alert,
  Button,
  FileInput,
  Group,
  Modal,
  Progress,
  Select,
  Stack,
  Text,
  TextInput,
} from '@mantine/core';
import { useState, type FormEvent } from 'react';
import { call, uploadFile, type Image, type Region } from '../api';
import { formatBytes } from '../format';

const FORMATS = ['raw', 'qcow2', 'vmdk', 'vhd', 'vhdx', 'iso'];

function guessFormat(name: string): string {
  const ext = name.split('.').pop()?.toLowerCase() ?? '';
  if (ext === 'img') return 'raw';
  return FORMATS.includes(ext) ? ext : 'raw';
}

export function UploadDialog({
  region,
  onClose,
  onUploaded,
}: {
  region: Region;
  onClose: () => void;
  onUploaded: () => void;
}) {
  const [file, setFile] = useState<File | null>(null);
  const [name, setName] = useState('');
  const [format, setFormat] = useState<string | null>('raw');
  const [progress, setProgress] = useState<{ sent: number; total: number } | null>(null);
  const [error, setError] = useState<string | null>(null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!file || !format) return;
    setError(null);
    setProgress({ sent: 0, total: file.size });
    let created: Image | undefined;
    try {
      created = await call<Image>(region.endpoint, '/v2/images', {
        method: 'POST',
        json: {
          name: name.trim() || file.name.replace(/\.[^.]+$/, ''),
          disk_format: format,
          container_format: 'bare',
          visibility: 'private',
        },
      });
      await uploadFile(region.endpoint, created.id, file, (sent, total) => setProgress({ sent, total }));
      onUploaded();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
      setProgress(null);
    }
  }

  return (
    <Modal opened onClose={onClose} title="Upload image" size="lg">
      <form onSubmit={submit}>
        <Stack>
          <FileInput
            label="Image file"
            required
            placeholder="Choose a disk image"
            value={file}
            onChange={(f) => {
              setFile(f);
              if (f) {
                setFormat(guessFormat(f.name));
                if (!name) setName(f.name.replace(/\.[^.]+$/, ''));
              }
            }}
          />
          <TextInput
            label="Name"
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            maxLength={255}
          />
          <Select
            label="Disk format"
            data={FORMATS}
            value={format}
            onChange={setFormat}
            allowDeselect={false}
          />
          {progress && (
            <div>
              <Progress
                value={progress.total ? (progress.sent / progress.total) * 100 : 0}
                aria-label="Upload progress"
              />
              <Text size="xs" c="dimmed" mt={4}>
                {formatBytes(progress.sent)} of {formatBytes(progress.total)}
              </Text>
            </div>
          )}
          {error && (
            <Alert color="red" role="alert" title="The upload was refused">
              {error}
            </Alert>
          )}
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" disabled={!file || progress !== null}>
              Upload
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
