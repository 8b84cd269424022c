// The web console in Debian's Chromium against real regions on loopback: sign in, the list (search, sort),
// the Replicate dialog of Table 2 (OK only once the disclaimer is ticked) and its job in the Tasks view, the
// replica Replicating then Normal in the destination and downloading byte-identical, the dialog of Table 3
// naming an ISO as ineligible, a cancel from the Tasks view, an API refusal shown in the dialog, and sharing.
// Every test fails if the browser logs an error. Screenshots go to docs/screenshots/.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { assertNoBrowserErrors, choose, listedNames, openBrowser, signIn } from '../../helpers/browser.js';
import { api, OCTET, startTestDeployment, type TestDeployment } from '../../helpers/deployment.js';
import { makeImage, makeIso } from '../../helpers/qemu.js';
import { pseudoRandom, startReplication, uploadImage, waitForJob } from '../../helpers/replication.js';
import { makeTempDir } from '../../helpers/tmp.js';

const MiB = 1024 * 1024;
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
const REGIONS = ['north-1', 'south-1'];
/** Slow enough (4 MiB take 8 s) for the console to show a replication under way. */
const SLOW = { bandwidthLimit: 512 * 1024 };

/** The row of the image named `name` in the list. */
function row(page: Page, name: string) {
  return page.locator('[data-testid="image-table"] tbody tr', { hasText: name });
}

async function uploadIso(d: TestDeployment, t: Parameters<typeof makeTempDir>[0], name: string) {
  const iso = await readFile(await makeIso(await makeTempDir(t)));
  const created = await api(d.url('north-1'), d.demo.token, 'POST', '/v2/images', {
    name,
    disk_format: 'iso',
    container_format: 'bare',
    visibility: 'private',
  });
  const put = await api(
    d.url('north-1'),
    d.demo.token,
    'PUT',
    `/v2/images/${created.body.id}/file`,
    iso,
    OCTET,
  );
  assert.equal(put.status, 204, JSON.stringify(put.body));
  return created.body.id as string;
}

test('sign in; the list shows the API’s images; search and sort; replicate one through Table 2 and watch it arrive', async (t) => {
  const d = await startTestDeployment(t, REGIONS, SLOW);
  const token = d.demo.token;
  const web = pseudoRandom(4 * MiB, 201);
  await uploadImage(d, token, 'north-1', web, { name: 'web-server' });
  await uploadImage(d, token, 'north-1', pseudoRandom(MiB, 202), { name: 'database' });
  await uploadImage(d, token, 'north-1', pseudoRandom(MiB, 203), { name: 'cache' });

  const session = await openBrowser(t);
  const { page } = session;
  await signIn(page, d.url('north-1'), token);
  assert.match(page.url(), /\/console\/north-1\/images$/, 'the address names the region and the view');
  await page.getByText('web-server').waitFor();
  assert.deepEqual((await listedNames(page)).sort(), ['cache', 'database', 'web-server']);

  // Search by name, then sort by name both ways.
  await page.getByLabel('Search by name').fill('ServE');
  await page.waitForFunction(
    () => document.querySelectorAll('[data-testid="image-table"] tbody tr').length === 1,
  );
  assert.deepEqual(await listedNames(page), ['web-server']);
  await page.getByLabel('Search by name').fill('');
  await page.waitForFunction(
    () => document.querySelectorAll('[data-testid="image-table"] tbody tr').length === 3,
  );
  await page.getByRole('button', { name: /^Name/ }).click();
  await page.waitForFunction(
    () =>
      document.querySelector('[data-testid="image-table"] tbody tr td:nth-child(2)')?.textContent === 'cache',
  );
  assert.deepEqual(await listedNames(page), ['cache', 'database', 'web-server']);
  await page.getByRole('button', { name: /^Name/ }).click();
  await page.waitForFunction(
    () =>
      document.querySelector('[data-testid="image-table"] tbody tr td:nth-child(2)')?.textContent ===
      'web-server',
  );
  assert.deepEqual(await listedNames(page), ['web-server', 'database', 'cache']);
  await session.screenshot(page, 'image-list');

  // More > Replicate: the dialog of Table 2.
  await row(page, 'web-server')
    .getByRole('button', { name: /More actions/ })
    .click();
  await page.getByRole('menuitem', { name: 'Replicate' }).click();
  const dialog = page.getByRole('dialog', { name: 'Replicate Image' });
  await dialog.waitFor();
  assert.equal(await dialog.getByLabel('Name').inputValue(), 'copy_north-1_web-server');
  assert.match(
    await dialog.getByTestId('agency-permission').innerText(),
    /holds CrossCopyAgencyPolicy in south-1/,
  );
  // The destination's projects are loaded from south-1, the one named after it chosen.
  await page.waitForFunction(() =>
    [...document.querySelectorAll('[role="dialog"] input')].some(
      (i) => (i as HTMLInputElement).value === 'south-1' && i.closest('[role="dialog"]') !== null,
    ),
  );
  assert.equal(await dialog.getByLabel(/^Destination project/).inputValue(), 'south-1');
  const ok = dialog.getByRole('button', { name: 'OK' });
  assert.equal(await ok.isDisabled(), true, 'OK waits for the disclaimer');
  await dialog.getByRole('checkbox', { name: /I have read and agree/ }).check();
  assert.equal(await ok.isDisabled(), false);
  await session.screenshot(page, 'replicate-dialog');
  await ok.click();
  await page.getByText(/Replicating web-server to south-1/).waitFor();

  // The Tasks view shows the job under way, then done.
  await page.getByRole('tab', { name: 'Tasks' }).click();
  assert.match(page.url(), /\/console\/north-1\/tasks$/);
  const jobRow = page.locator('[data-testid="job-table"] tbody tr', { hasText: 'web-server' });
  await jobRow.waitFor();
  assert.match(await jobRow.innerText(), /south-1/);
  await session.screenshot(page, 'tasks');

  // In the destination region the replica is Replicating, then Normal.
  await page.getByRole('tab', { name: 'Images' }).click();
  await choose(page, 'Region', 'South 1 (south-1)');
  assert.match(page.url(), /\/console\/south-1\/images$/);
  const replica = row(page, 'copy_north-1_web-server');
  await replica.getByText('Replicating').waitFor({ timeout: 20_000 });
  await replica.getByText('Normal').waitFor({ timeout: 60_000 });

  // Downloaded from the console, it is the source's bytes.
  await replica.getByRole('button', { name: /More actions/ }).click();
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('menuitem', { name: 'Download' }).click(),
  ]);
  const saved = await readFile((await download.path())!);
  assert.equal(sha256(saved), sha256(web));
  // The address opens the same view: another tab signs in there and lands on south-1's images.
  const again = await session.newPage();
  await again.goto(page.url());
  await again.getByLabel('API token').fill(token);
  await again.getByRole('button', { name: 'Sign in' }).click();
  await row(again, 'copy_north-1_web-server').waitFor();
  assert.match(again.url(), /\/console\/south-1\/images$/);

  // The source region's usage shows the traffic to south-1, as a chart and a table.
  await choose(page, 'Region', 'North 1 (north-1)');
  await page.getByRole('tab', { name: 'Usage' }).click();
  await page.getByRole('img', { name: /Bytes sent from north-1/ }).waitFor();
  const traffic = page.locator('[data-testid="usage-table"] tbody tr', { hasText: 'north-1 → south-1' });
  assert.match(await traffic.innerText(), /Traffic/);
  assertNoBrowserErrors(session);
});

test('Table 3: three images selected, the ISO named ineligible with its reason, OK starts two jobs', async (t) => {
  const d = await startTestDeployment(t, REGIONS);
  const token = d.demo.token;
  await uploadImage(d, token, 'north-1', pseudoRandom(MiB, 211), { name: 'alpha' });
  await uploadImage(d, token, 'north-1', pseudoRandom(MiB, 212), { name: 'beta' });
  await uploadIso(d, t, 'installer');

  const session = await openBrowser(t);
  const { page } = session;
  await signIn(page, d.url('north-1'), token);
  await page.getByText('installer').waitFor();
  const replicate = page.getByRole('button', { name: 'Replicate', exact: true });
  assert.equal(await replicate.isDisabled(), true, 'nothing selected');
  // Only the ISO: still nothing eligible.
  await page.getByRole('checkbox', { name: 'Select installer' }).check();
  assert.equal(await replicate.isDisabled(), true);
  await page.getByRole('checkbox', { name: 'Select alpha' }).check();
  await page.getByRole('checkbox', { name: 'Select beta' }).check();
  await replicate.click();
  const dialog = page.getByRole('dialog', { name: 'Replicate Images Across Regions' });
  await dialog.waitFor();
  const isoRow = dialog.locator('[data-testid="selected-images"] tr', { hasText: 'installer' });
  assert.match(await isoRow.innerText(), /ISO images cannot be replicated/);
  await dialog.getByRole('checkbox', { name: /I have read and agree/ }).check();
  await dialog.getByTestId('agency-permission').waitFor();
  await session.screenshot(page, 'replicate-several-dialog');
  await dialog.getByRole('button', { name: 'OK' }).click();
  await dialog.getByTestId('batch-result').waitFor();
  assert.match(await dialog.getByTestId('batch-result').innerText(), /2 replications started/);
  const jobs = (await api(d.url('north-1'), token, 'GET', '/v1/cloudimages/jobs')).body.jobs;
  assert.deepEqual(jobs.map((j: { source_image_name: string }) => j.source_image_name).sort(), [
    'alpha',
    'beta',
  ]);
  assertNoBrowserErrors(session);
});

test('cancel a running replication from the Tasks view; the replica leaves the destination list', async (t) => {
  const d = await startTestDeployment(t, REGIONS, { bandwidthLimit: 128 * 1024 });
  const token = d.demo.token;
  const image = await uploadImage(d, token, 'north-1', pseudoRandom(4 * MiB, 221), { name: 'slow-one' });
  const jobId = await startReplication(d.url('north-1'), token, image);

  const session = await openBrowser(t);
  const { page } = session;
  await signIn(page, d.url('north-1'), token);
  await page.getByRole('tab', { name: 'Tasks' }).click();
  const jobRow = page.locator(`[data-job-id="${jobId}"]`);
  await jobRow.getByRole('button', { name: 'Cancel' }).click();
  await page
    .getByRole('dialog', { name: 'Cancel the replication?' })
    .getByRole('button', { name: 'Cancel the job' })
    .click();
  await jobRow.getByTestId('job-status').getByText('CANCELLED').waitFor();
  assert.equal((await waitForJob(d.url('north-1'), token, jobId)).status, 'CANCELLED');
  await page.getByRole('tab', { name: 'Images' }).click();
  await choose(page, 'Region', 'South 1 (south-1)');
  await page.getByTestId('empty').waitFor();
  assert.deepEqual(await listedNames(page), []);
  assertNoBrowserErrors(session);
});

test("a refusal is shown in the dialog with the API's message", async (t) => {
  const d = await startTestDeployment(t, REGIONS);
  const token = d.demo.token;
  await uploadImage(d, token, 'north-1', pseudoRandom(MiB, 231), { name: 'refused' });
  // An agency without the permission in south-1 (listed first: agencies come by name).
  const agency = await api(d.url('north-1'), token, 'POST', '/v1/agencies', {
    name: 'aa_no_permission',
    policies: [{ region: 'north-1', policy: 'CrossCopyAgencyPolicy' }],
  });
  assert.equal(agency.status, 201, JSON.stringify(agency.body));

  const session = await openBrowser(t);
  const { page } = session;
  await signIn(page, d.url('north-1'), token);
  await row(page, 'refused')
    .getByRole('button', { name: /More actions/ })
    .click();
  await page.getByRole('menuitem', { name: 'Replicate' }).click();
  const dialog = page.getByRole('dialog', { name: 'Replicate Image' });
  await choose(page, 'IAM agency', 'aa_no_permission — lacks the permission');
  assert.match(
    await dialog.getByTestId('agency-permission').innerText(),
    /does not hold CrossCopyAgencyPolicy/,
  );
  await dialog.getByRole('checkbox', { name: /I have read and agree/ }).check();
  // The refusal is a 400, which Chromium logs as a failed load: expected here, and only here.
  session.allowFailedRequest(/\/cross_region_copy$/);
  await dialog.getByRole('button', { name: 'OK' }).click();
  const error = dialog.getByTestId('api-error');
  await error.waitFor();
  assert.match(
    await error.innerText(),
    /Agency aa_no_permission does not hold CrossCopyAgencyPolicy in south-1/,
    'the API’s own message',
  );
  assert.match(await error.innerText(), /IMG\.0151/);
  // The keyboard: focus stays in the dialog, and Escape closes it.
  assert.equal(await dialog.evaluate((el) => el.contains(document.activeElement)), true);
  await page.keyboard.press('Tab');
  assert.equal(await dialog.evaluate((el) => el.contains(document.activeElement)), true);
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
  assert.deepEqual((await api(d.url('north-1'), token, 'GET', '/v1/cloudimages/jobs')).body.jobs, []);
  assertNoBrowserErrors(session);
});

test('share an image with another project; its user accepts it in “Shared with me”', async (t) => {
  const d = await startTestDeployment(t, ['north-1']);
  await uploadImage(d, d.demo.token, 'north-1', pseudoRandom(MiB, 241), { name: 'golden' });
  const other = d.other.projects['north-1']!;

  const session = await openBrowser(t);
  const { page } = session;
  await signIn(page, d.url(), d.demo.token);
  await row(page, 'golden')
    .getByRole('button', { name: /More actions/ })
    .click();
  await page.getByRole('menuitem', { name: 'Share' }).click();
  const dialog = page.getByRole('dialog', { name: 'Share golden' });
  await dialog.getByLabel('Project ID to share with').fill(other);
  await dialog.getByRole('button', { name: 'Add member' }).click();
  await dialog.getByTestId('members').getByText('pending').waitFor();
  await session.screenshot(page, 'sharing');

  // The other account's user, in a browser session of its own.
  const theirs = await session.newPage();
  await signIn(theirs, d.url(), d.other.token);
  await theirs.getByRole('tab', { name: 'Shared with me' }).click();
  const shared = row(theirs, 'golden');
  await shared.getByText('membership: pending').waitFor();
  await shared.getByRole('button', { name: /More actions/ }).click();
  await theirs.getByRole('menuitem', { name: 'Accept' }).click();
  await shared.getByText('membership: accepted').waitFor();
  assertNoBrowserErrors(session);
});

test('upload an image file with progress; it shows Normal, with every field in its details', async (t) => {
  const d = await startTestDeployment(t, ['north-1']);
  const dir = await makeTempDir(t);
  const file = await makeImage(dir, 'qcow2', 64 * MiB, { randomData: 2 * MiB, name: 'uploaded.qcow2' });
  const session = await openBrowser(t);
  const { page } = session;
  await signIn(page, d.url(), d.demo.token);
  await page.getByTestId('empty').waitFor();
  await page.getByRole('button', { name: 'Upload image' }).click();
  const dialog = page.getByRole('dialog', { name: 'Upload image' });
  await dialog.locator('input[type="file"]').setInputFiles(file);
  assert.equal(await dialog.getByLabel('Name').inputValue(), 'uploaded');
  await dialog.getByRole('button', { name: 'Upload', exact: true }).click();
  await row(page, 'uploaded').getByText('Normal').waitFor();
  const [image] = (await api(d.url(), d.demo.token, 'GET', '/v2/images')).body.images;
  assert.equal(image.disk_format, 'qcow2');
  assert.equal(image.size, (await readFile(file)).length);
  await row(page, 'uploaded').getByRole('button', { name: 'uploaded', exact: true }).click();
  const details = page.getByTestId('image-details');
  await details.waitFor();
  assert.match(await details.innerText(), new RegExp(image.checksum));
  assertNoBrowserErrors(session);
});

test('pages: 27 images, 10 a page, forward and back', async (t) => {
  const d = await startTestDeployment(t, ['north-1']);
  for (let i = 0; i < 27; i++) {
    const name = `image-${String(i).padStart(2, '0')}`;
    const created = await api(d.url(), d.demo.token, 'POST', '/v2/images', { name, visibility: 'private' });
    assert.equal(created.status, 201);
  }
  const session = await openBrowser(t);
  const { page } = session;
  await signIn(page, d.url(), d.demo.token);
  await page.getByText('image-26').waitFor();
  await choose(page, 'Images per page', '10');
  await page.getByRole('button', { name: /^Name/ }).click();
  const first = async () => (await listedNames(page))[0];
  await page.waitForFunction(
    () => document.querySelectorAll('[data-testid="image-table"] tbody tr').length === 10,
  );
  assert.equal(await first(), 'image-00');
  const next = page.getByRole('button', { name: 'Next page' });
  await next.click();
  await page.getByText('Page 2').waitFor();
  await page.getByText('image-10').waitFor();
  assert.equal(await first(), 'image-10');
  await next.click();
  await page.getByText('Page 3').waitFor();
  await page.getByText('image-20').waitFor();
  assert.equal((await listedNames(page)).length, 7);
  assert.equal(await next.isDisabled(), true, 'the last page');
  await page.getByRole('button', { name: 'Previous page' }).click();
  await page.getByText('Page 2').waitFor();
  await page.getByText('image-10').waitFor();
  // A new image is Creating until its data arrives.
  assert.match(await row(page, 'image-10').innerText(), /Creating/i); // a Badge, shown in capitals
  assertNoBrowserErrors(session);
});
