// The stock OpenStack clients against a Ferry region: python-openstackclient (OSC 6.0, whose image commands go
// through openstacksdk) and python-glanceclient, run as child processes the way a user runs them, with their
// `-f json` (OSC) or table (glanceclient) output parsed and compared with the image file and Ferry's own API.
//
// Endpoints. With `--os-auth-type admin_token`, keystoneauth sends every request to `--os-endpoint` exactly
// as given (the token plugin's endpoint is not replaced by the one version discovery finds), so OSC is given
// the versioned URL `<region>/v2`; an unversioned endpoint fails against Glance too, which answers
// `GET /images` with its version list. glanceclient takes the unversioned URL and adds `/v2` itself.
//
// No keystone. OSC resolves projects through the identity service except where it is given a UUID-like id:
// `image add project IMAGE PROJECT_ID` skips the lookup (as OSC 6.0 does), but `image remove project` always
// looks the project up and `image set --accept` takes the caller's project from the keystone token
// (`auth_ref.project_id`), which admin_token auth does not have. Those two steps use glanceclient's
// `member-delete` and `member-update`, which send the ids as given.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { api, startTestDeployment, type TestDeployment } from '../helpers/deployment.js';
import { makeImage } from '../helpers/qemu.js';
import { makeTempDir } from '../helpers/tmp.js';

const MiB = 1024 * 1024;
/** One client command; a Python client starts in about a second. */
const COMMAND_TIMEOUT_MS = 30_000;
const TEST_TIMEOUT_MS = 60_000;

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a client with the caller's environment minus every OS_* variable (a developer's own cloud settings
 * must not leak in), HOME in the test's directory (glanceclient caches the schemas it downloads under
 * ~/.glanceclient) and stdin closed (OSC's `image create` reads the image from a stdin that is not a TTY).
 */
function runCli(home: string, command: string, args: string[]): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { HOME: home, PYTHONDONTWRITEBYTECODE: '1' };
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('OS_') && name !== 'HOME') env[name] = value;
  }
  return new Promise((resolve, reject) => {
    const child = execFile(
      command,
      args,
      { env, cwd: home, timeout: COMMAND_TIMEOUT_MS, maxBuffer: 16 * MiB },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') {
          reject(new Error(`${command} ${args.join(' ')} did not finish: ${error.message}\n${stderr}`));
          return;
        }
        resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
      },
    );
    child.stdin?.end();
  });
}

function explain(args: string[], result: CliResult): string {
  return `${args.join(' ')} exited with ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`;
}

/** The two clients, logged in with a token (demo's or other's) to one region. */
class Clients {
  constructor(
    private readonly d: TestDeployment,
    private readonly home: string,
  ) {}

  /** `openstack ...`; the command must succeed. */
  async openstack(token: string, ...args: string[]): Promise<string> {
    const result = await this.openstackResult(token, ...args);
    assert.equal(result.code, 0, explain(['openstack', ...args], result));
    return result.stdout;
  }

  /** `openstack ... -f json`, parsed. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON
  async openstackJson(token: string, ...args: string[]): Promise<any> {
    return JSON.parse(await this.openstack(token, ...args, '-f', 'json'));
  }

  openstackResult(token: string, ...args: string[]): Promise<CliResult> {
    const auth = [
      '--os-auth-type',
      'admin_token',
      '--os-endpoint',
      `${this.d.url()}/v2`,
      '--os-token',
      token,
    ];
    return runCli(this.home, 'openstack', [...auth, '--os-image-api-version', '2', ...args]);
  }

  /** `glance ...`; the command must succeed. Returns the rows of the table it prints. */
  async glance(token: string, ...args: string[]): Promise<Record<string, string>[]> {
    const auth = ['--os-image-url', this.d.url(), '--os-auth-token', token];
    const result = await runCli(this.home, 'glance', [...auth, ...args]);
    assert.equal(result.code, 0, explain(['glance', ...args], result));
    return parseTable(result.stdout);
  }

  /**
   * `glance image-show`-style output (a Property | Value table) as one object. Values longer than the
   * column (80 characters, such as os_hash_value) go on in rows without a property name.
   */
  async glanceShow(token: string, ...args: string[]): Promise<Record<string, string>> {
    const shown: Record<string, string> = {};
    let last = '';
    for (const { Property: property = '', Value: value = '' } of await this.glance(token, ...args)) {
      if (property !== '') last = property;
      shown[last] = (property === '' ? shown[last]! : '') + value;
    }
    return shown;
  }
}

/** Parses a prettytable (`+---+` rules, `| a | b |` rows, the first row the header); no table: no rows. */
function parseTable(output: string): Record<string, string>[] {
  const lines = output.split('\n').filter((line) => line.startsWith('|'));
  if (lines.length === 0) return [];
  const cells = (line: string) =>
    line
      .slice(1, -1)
      .split('|')
      .map((cell) => cell.trim());
  const [header, ...rows] = lines.map(cells) as [string[], ...string[][]];
  return rows.map((row) => Object.fromEntries(header.map((name, i) => [name, row[i] ?? ''])));
}

function digest(algorithm: string, data: Buffer): string {
  return createHash(algorithm).update(data).digest('hex');
}

async function setup(t: TestContext) {
  const d = await startTestDeployment(t, ['north-1']);
  const dir = await makeTempDir(t);
  const source = await makeImage(dir, 'qcow2', 64 * MiB, { randomData: 3 * MiB + 4321, name: 'disk.qcow2' });
  return { d, dir, source, original: await readFile(source), cli: new Clients(d, dir) };
}

test(
  'openstack image create/list/show/save/set/delete: a qemu-img qcow2 round-trips through Ferry',
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    const { d, dir, source, original, cli } = await setup(t);
    const token = d.demo.token;

    // Create and upload in one command (the JSON it prints is the image as created, before the upload).
    const created = await cli.openstackJson(
      token,
      'image',
      'create',
      '--disk-format',
      'qcow2',
      '--container-format',
      'bare',
      '--file',
      source,
      'debian-12',
    );
    assert.equal(created.name, 'debian-12');
    assert.match(created.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const id: string = created.id;

    // Show (by name: openstacksdk falls back to ?name= after the 404 for a non-UUID) and list.
    const shown = await cli.openstackJson(token, 'image', 'show', 'debian-12');
    assert.equal(shown.id, id);
    assert.equal(shown.status, 'active');
    assert.equal(shown.size, original.length);
    assert.equal(shown.checksum, digest('md5', original));
    assert.equal(shown.virtual_size, 64 * MiB);
    assert.equal(shown.disk_format, 'qcow2');
    assert.equal(shown.container_format, 'bare');
    assert.equal(shown.visibility, 'shared');
    assert.equal(shown.owner, d.demo.projects['north-1']);
    assert.equal(shown.properties.os_hash_algo, 'sha512');
    assert.equal(shown.properties.os_hash_value, digest('sha512', original));

    const listed = await cli.openstackJson(token, 'image', 'list');
    assert.deepEqual(listed, [{ ID: id, Name: 'debian-12', Status: 'active' }]);

    // Download.
    const out = join(dir, 'out.qcow2');
    await cli.openstack(token, 'image', 'save', '--file', out, id);
    assert.ok((await readFile(out)).equals(original), 'image save writes the uploaded bytes');

    // A free-form property, seen by OSC and by the Ferry API.
    await cli.openstack(token, 'image', 'set', '--property', 'os_distro=debian', id);
    const updated = await cli.openstackJson(token, 'image', 'show', id);
    assert.equal(updated.properties.os_distro, 'debian');
    const viaApi = await api(d.url(), token, 'GET', `/v2/images/${id}`);
    assert.equal(viaApi.status, 200);
    assert.equal(viaApi.body.os_distro, 'debian');

    // Delete: then show fails, and the API answers 404.
    await cli.openstack(token, 'image', 'delete', id);
    const gone = await cli.openstackResult(token, 'image', 'show', id);
    assert.notEqual(gone.code, 0, explain(['image', 'show', id], gone));
    assert.match(gone.stderr, new RegExp(`No Image found for ${id}`));
    assert.equal((await api(d.url(), token, 'GET', `/v2/images/${id}`)).status, 404);
    assert.deepEqual(await cli.openstackJson(token, 'image', 'list'), []);
  },
);

test(
  'sharing: openstack image add project and glance member-create, the member accepts, lists and downloads',
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    const { d, dir, source, original, cli } = await setup(t);
    const owner = d.demo.token;
    const member = d.other.token;
    const memberProject = d.other.projects['north-1']!;
    const createArgs = ['--disk-format', 'qcow2', '--container-format', 'bare', '--file', source];

    // One image created shared, one made shared afterwards with `image set --shared`.
    const first = (await cli.openstackJson(owner, 'image', 'create', ...createArgs, '--shared', 'first')).id;
    const second = (await cli.openstackJson(owner, 'image', 'create', ...createArgs, '--private', 'second'))
      .id;
    assert.equal((await cli.openstackJson(owner, 'image', 'show', second)).visibility, 'private');
    await cli.openstack(owner, 'image', 'set', '--shared', second);
    assert.equal((await cli.openstackJson(owner, 'image', 'show', second)).visibility, 'shared');

    // OSC takes the project id directly (no keystone lookup for a UUID-like id); glanceclient too.
    const added = await cli.openstackJson(owner, 'image', 'add', 'project', first, memberProject);
    assert.equal(added.image_id, first);
    assert.equal(added.member_id, memberProject);
    assert.equal(added.status, 'pending');
    const [created] = await cli.glance(owner, 'member-create', second, memberProject);
    assert.deepEqual(created, { 'Image ID': second, 'Member ID': memberProject, Status: 'pending' });

    // Pending: the member can see the image by id, but its list leaves pending images out until it accepts.
    assert.equal((await cli.openstackJson(member, 'image', 'show', first)).name, 'first');
    assert.deepEqual(await cli.openstackJson(member, 'image', 'list'), []);

    for (const image of [first, second]) {
      const [accepted] = await cli.glance(member, 'member-update', image, memberProject, 'accepted');
      assert.deepEqual(accepted, { 'Image ID': image, 'Member ID': memberProject, Status: 'accepted' });
    }
    for (const token of [owner, member]) {
      assert.deepEqual(await cli.glance(token, 'member-list', '--image-id', first), [
        { 'Image ID': first, 'Member ID': memberProject, Status: 'accepted' },
      ]);
    }
    assert.deepEqual(await cli.openstackJson(owner, 'image', 'member', 'list', second), [
      { 'Image ID': second, 'Member ID': memberProject, Status: 'accepted' },
    ]);

    const names = async (token: string) =>
      ((await cli.openstackJson(token, 'image', 'list')) as { Name: string }[]).map((i) => i.Name).sort();
    assert.deepEqual(await names(member), ['first', 'second']);
    const copy = join(dir, 'member-copy.qcow2');
    await cli.openstack(member, 'image', 'save', '--file', copy, first);
    assert.ok((await readFile(copy)).equals(original), 'the member downloads the shared bytes');

    // Unsharing (glanceclient: OSC's `image remove project` always asks keystone for the project).
    assert.deepEqual(await cli.glance(owner, 'member-delete', first, memberProject), []);
    assert.deepEqual(await names(member), ['second']);
    assert.equal((await api(d.url(), member, 'GET', `/v2/images/${first}`)).status, 404);
  },
);

test(
  "glanceclient: image-create, image-list, image-show and image-update pass its checks against Ferry's schemas",
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    const { d, source, original, cli } = await setup(t);
    const token = d.demo.token;

    // glanceclient downloads /v2/schemas/image from Ferry and checks with it (warlock/jsonschema) what it
    // sends, the image image-create gets back, and on image-update the whole current image before it builds
    // the JSON patch; image-list and image-show do not validate. So a field whose type or value the schema
    // does not allow shows up as a failed image-create or image-update: run them on an active image (every
    // field set) and on a queued one (checksum, size... null).
    const created = await cli.glanceShow(
      token,
      'image-create',
      '--name',
      'uploaded',
      '--disk-format',
      'qcow2',
      '--container-format',
      'bare',
      '--property',
      'os_distro=debian',
      '--file',
      source,
    );
    assert.equal(created.status, 'active');
    const id = created.id!;
    const queued = await api(d.url(), token, 'POST', '/v2/images', {
      name: 'queued',
      disk_format: 'raw',
      container_format: 'bare',
      tags: ['base'],
      min_ram: 512,
    });
    assert.equal(queued.status, 201);

    const listed = await cli.glance(token, 'image-list');
    assert.deepEqual(
      listed.map((row) => [row.ID, row.Name]).sort((a, b) => a[1]!.localeCompare(b[1]!)),
      [
        [queued.body.id, 'queued'],
        [id, 'uploaded'],
      ],
    );

    const shown = await cli.glanceShow(token, 'image-show', id);
    assert.equal(shown.id, id);
    assert.equal(shown.name, 'uploaded');
    assert.equal(shown.status, 'active');
    assert.equal(shown.size, String(original.length));
    assert.equal(shown.virtual_size, String(64 * MiB));
    assert.equal(shown.checksum, digest('md5', original));
    assert.equal(shown.os_hash_value, digest('sha512', original));
    assert.equal(shown.os_distro, 'debian');
    assert.equal(shown.owner, d.demo.projects['north-1']);
    assert.equal(shown.visibility, 'shared');
    assert.equal(shown.protected, 'False');

    const shownQueued = await cli.glanceShow(token, 'image-show', queued.body.id);
    assert.equal(shownQueued.status, 'queued');
    assert.equal(shownQueued.min_ram, '512');
    assert.deepEqual(JSON.parse(shownQueued.tags!), ['base']);

    const updated = await cli.glanceShow(token, 'image-update', '--property', 'os_version=12', id);
    assert.equal(updated.os_version, '12');
    assert.equal(updated.os_distro, 'debian');
    const updatedQueued = await cli.glanceShow(token, 'image-update', '--min-disk', '3', queued.body.id);
    assert.equal(updatedQueued.min_disk, '3');
    const viaApi = await api(d.url(), token, 'GET', `/v2/images/${id}`);
    assert.equal(viaApi.body.os_version, '12');
    assert.equal((await api(d.url(), token, 'GET', `/v2/images/${queued.body.id}`)).body.min_disk, 3);
  },
);

test(
  'images.hashingAlgorithm sha256: both clients report it, and glanceclient verifies downloads with it',
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    const d = await startTestDeployment(t, ['north-1'], {}, {}, { hashingAlgorithm: 'sha256' });
    const dir = await makeTempDir(t);
    const source = await makeImage(dir, 'qcow2', 64 * MiB, { randomData: 2 * MiB + 99, name: 'disk.qcow2' });
    const original = await readFile(source);
    const cli = new Clients(d, dir);
    const token = d.demo.token;

    const createArgs = ['--disk-format', 'qcow2', '--container-format', 'bare', '--file', source];
    const id: string = (await cli.openstackJson(token, 'image', 'create', ...createArgs, 'sha256-image')).id;
    const shown = await cli.openstackJson(token, 'image', 'show', id);
    assert.equal(shown.properties.os_hash_algo, 'sha256');
    assert.equal(shown.properties.os_hash_value, digest('sha256', original));
    assert.equal(shown.checksum, digest('md5', original));
    const glanceShown = await cli.glanceShow(token, 'image-show', id);
    assert.equal(glanceShown.os_hash_algo, 'sha256');
    assert.equal(glanceShown.os_hash_value, digest('sha256', original));

    // OSC (openstacksdk) checks the MD5 checksum; glanceclient checks os_hash_value with os_hash_algo.
    const saved = join(dir, 'saved.qcow2');
    await cli.openstack(token, 'image', 'save', '--file', saved, id);
    assert.ok((await readFile(saved)).equals(original), 'image save writes the uploaded bytes');
    const downloaded = join(dir, 'downloaded.qcow2');
    await cli.glance(token, 'image-download', '--file', downloaded, id);
    assert.ok((await readFile(downloaded)).equals(original), 'image-download writes the uploaded bytes');

    // The check is real: with a wrong SHA-256 recorded, glanceclient refuses the download.
    await d.regions[0]!.ctx.db.updateTable('images')
      .set({ os_hash_value: digest('sha256', Buffer.from('other bytes')) })
      .where('id', '=', id)
      .execute();
    const refused = await runCli(dir, 'glance', [
      '--os-image-url',
      d.url(),
      '--os-auth-token',
      token,
      'image-download',
      '--file',
      join(dir, 'refused.qcow2'),
      id,
    ]);
    assert.notEqual(refused.code, 0, explain(['glance', 'image-download', id], refused));
    // What it computed is the SHA-256 of the bytes sent: it hashed with the algorithm Ferry reported.
    assert.match(
      refused.stderr,
      new RegExp(`Corrupt image download\\. Hash was ${digest('sha256', original)}`),
    );
  },
);
