/**
 * The console in a real browser for tests: Debian's Chromium driven by playwright-core, headless, on loopback.
 * Every message the page logs as an error (and every uncaught page error) is collected, and the test fails
 * on any at its end. Screenshots go to docs/screenshots/ (the README shows them).
 * @module
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];
const SCREENSHOTS = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));

export interface ConsoleSession {
  browser: Browser;
  page: Page;
  /** Errors the page logged so far. */
  errors: string[];
  /** A new page in the same browser (another user), watched for errors too. */
  newPage(): Promise<Page>;
  /**
   * A request to a URL matching `url` may fail (a refusal the test provokes): Chromium logs every 4xx as a
   * failed load, and that one is not an error of the console's.
   */
  allowFailedRequest(url: RegExp): void;
  /** Saves the page as docs/screenshots/<name>.png. */
  screenshot(page: Page, name: string): Promise<void>;
}

function watch(page: Page, errors: string[], allowed: RegExp[]): Page {
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const resource = message.location().url;
    if (message.text().startsWith('Failed to load resource') && allowed.some((url) => url.test(resource)))
      return;
    errors.push(`console: ${message.text()} (${resource || page.url()})`);
  });
  page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
  return page;
}

/** A browser at 1280×800 whose pages must log no error before the test ends. */
export async function openBrowser(t: TestContext): Promise<ConsoleSession> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  const errors: string[] = [];
  const allowed: RegExp[] = [];
  const newPage = async () =>
    watch(await browser.newPage({ viewport: { width: 1280, height: 800 } }), errors, allowed);
  const page = await newPage();
  t.after(async () => {
    await browser.close();
  });
  return {
    browser,
    page,
    errors,
    newPage,
    allowFailedRequest: (url) => void allowed.push(url),
    async screenshot(target, name) {
      await mkdir(SCREENSHOTS, { recursive: true });
      await target.screenshot({ path: `${SCREENSHOTS}${name}.png` });
    },
  };
}

/** Fails the test if any page logged an error. */
export function assertNoBrowserErrors(session: ConsoleSession): void {
  assert.deepEqual(session.errors, [], 'the browser console logged errors');
}

/** Opens the console at `url` (a region's endpoint) and signs in with `token`. */
export async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(`${url}/`);
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('tab', { name: 'Private images' }).waitFor();
}

/** The names in the image table, in order. */
export async function listedNames(page: Page): Promise<string[]> {
  return page.locator('[data-testid="image-table"] tbody tr td:nth-child(2)').allInnerTexts();
}

/** Picks `option` in the Mantine select labelled `label`. */
export async function choose(page: Page, label: string, option: string): Promise<void> {
  await page
    .getByRole('textbox', { name: label })
    .or(page.getByRole('combobox', { name: label }))
    .first()
    .click();
  await page.getByRole('option', { name: option, exact: true }).click();
}
