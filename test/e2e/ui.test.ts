// The web UI in a real browser: Debian's Chromium, headless, driven by playwright-core against
// a real `coffer server` process (SQLite storage, a file audit device, userpass, the database
// engine on the real PostgreSQL). One browser for the whole file; each step is one test.
// Along the way: screenshots of the main screens and an axe-core scan of each (no serious or
// critical violation), and at the end proof that no token, password or secret value reached a
// URL, localStorage or the console, and that the CSP refused nothing.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestProvider, type TestProvider } from '../../src/engines/auth/jwt/testing.js';
import { postgresFixture, type DatabaseFixture } from '../integration/database-fixtures.js';
import {
  createTempDir,
  killAllServers,
  REPO_ROOT,
  sqliteConfig,
  startServer,
  type ServerProcess,
} from '../helpers/server-process.js';
import { isCi } from '../helpers/services.js';
import { initAndUnseal, vaultOk, vaultRequest } from './vault-http.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(REPO_ROOT, 'test-artifacts', 'ui');
const PREFIX = 'cuie2e';
const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && isCi()) {
  throw new Error(`CI=true: ${CHROMIUM} is missing (apt-get install chromium; .ci/run does)`);
}
if (!haveChromium) console.warn(`skipping the browser tests: ${CHROMIUM} is not installed`);

const random = () => Math.random().toString(36).slice(2, 10);
/** Every secret the browser ever handles; none may reach a URL, localStorage or the console. */
const canaries: Record<string, string> = {
  firstValue: `CANARY-ui-first-${random()}`,
  secondValue: `CANARY-ui-second-${random()}`,
  apiKey: `CANARY-ui-apikey-${random()}`,
  userPassword: `CANARY-ui-pw-${random()}`,
};

const dir = createTempDir('coffer-ui-e2e-');
let server: ServerProcess;
let rootToken = '';
let adminToken = '';
let adminAccessor = '';
let context: BrowserContext;
let page: Page;
let pg: DatabaseFixture | undefined;
let shareToken = '';
let provider: TestProvider | undefined;
/** Everything the browser did that a secret must never appear in. */
const requestUrls: string[] = [];
const pageUrls: string[] = [];
const consoleLines: string[] = [];
const cspViolations: string[] = [];
const axeReport: Record<string, unknown> = {};

async function api(method: string, path: string, body?: unknown) {
  const res = await vaultOk(server.url, method, path, {
    token: rootToken,
    ...(body === undefined ? {} : { body }),
  });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers, read by shape
  return (res.body ?? {}) as Record<string, any>;
}

function watch(p: Page): Page {
  p.on('request', (req) => requestUrls.push(req.url()));
  p.on('framenavigated', (frame) => pageUrls.push(frame.url()));
  p.on('console', (msg) => {
    consoleLines.push(msg.text());
    if (/Content Security Policy|Trusted Type/i.test(msg.text())) cspViolations.push(msg.text());
  });
  p.on('pageerror', (error) => consoleLines.push(`pageerror: ${error.message}`));
  return p;
}

async function newPage(width = 1280): Promise<Page> {
  const p = watch(await context.newPage());
  await p.setViewportSize({ width, height: 900 });
  return p;
}

async function shot(p: Page, name: string): Promise<void> {
  await p.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** axe-core in the page (evaluated, so the CSP stays as served); no serious or critical. */
async function axe(p: Page, name: string): Promise<void> {
  const result = await p.evaluate(`${AXE_SOURCE};
    axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } })
      .then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length, targets: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) })))`);
  const violations = result as { id: string; impact: string; help: string }[];
  axeReport[name] = violations;
  const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(serious, `${name}: ${JSON.stringify(serious)}`).toEqual([]);
}

/** Playwright-style waits for vitest's expect: poll the page until the condition holds. */
const WAIT_MS = 20_000;
async function visible(locator: Locator): Promise<void> {
  await locator.first().waitFor({ state: 'visible', timeout: WAIT_MS });
  expect(await locator.first().isVisible()).toBe(true);
}
async function hasText(locator: Locator, text: string): Promise<void> {
  await expect
    .poll(async () => (await locator.first().textContent({ timeout: WAIT_MS })) ?? '', {
      timeout: WAIT_MS,
    })
    .toContain(text);
}
async function count(locator: Locator, n: number): Promise<void> {
  await expect.poll(() => locator.count(), { timeout: WAIT_MS }).toBe(n);
}

async function localStorageText(p: Page): Promise<string> {
  return p.evaluate('JSON.stringify({ ...window.localStorage })');
}

async function signInWithToken(p: Page, token: string): Promise<void> {
  await p.goto(`${server.url}/ui/`);
  await p.getByRole('tab', { name: 'Token' }).click();
  await p.locator('input[name=token]').fill(token);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.getByRole('button', { name: 'Sign out' }).waitFor();
}

async function openSecret(p: Page, mountLabel: string, folder: string, name: string) {
  await p.getByRole('link', { name: 'Secrets', exact: true }).click();
  const tree = p.getByRole('navigation', { name: 'Secrets tree' });
  const mount = tree.getByRole('button', { name: mountLabel });
  if ((await mount.getAttribute('aria-expanded')) !== 'true') await mount.click();
  const folderButton = tree.getByRole('button', { name: folder, exact: true });
  if ((await folderButton.getAttribute('aria-expanded')) !== 'true') await folderButton.click();
  await tree.getByRole('link', { name, exact: true }).click();
}

describe.skipIf(!haveChromium)('the web UI in Chromium', { timeout: 90_000 }, () => {
  beforeAll(async () => {
    rmSync(ARTIFACTS, { recursive: true, force: true });
    mkdirSync(ARTIFACTS, { recursive: true });
    pg = await postgresFixture(PREFIX);
    if (!pg.service.available) {
      console.warn(`PostgreSQL steps skipped: ${pg.service.reason}`);
      pg = undefined;
    } else {
      await pg.setup();
    }
    server = await startServer({
      configText: sqliteConfig(dir.file('coffer.db'), { logLevel: 'info' }),
    });
    rootToken = (await initAndUnseal(server.url, 1, 1)).root_token;
    await api('PUT', 'sys/audit/file', {
      type: 'file',
      options: { file_path: dir.file('audit.log'), checkpoint_interval: '20' },
    });
    await api('POST', 'sys/mounts/secret', { type: 'kv', options: { version: '2' } });
    await api('POST', 'sys/auth/userpass', { type: 'userpass' });
    await api('PUT', 'sys/policies/acl/reader', {
      policy: [
        'path "secret/data/app/*" {',
        '  capabilities = ["read"]',
        '}',
        'path "secret/metadata/app/*" {',
        '  capabilities = ["read", "list"]',
        '}',
      ].join('\n'),
    });
    await api('PUT', 'auth/userpass/users/alice', {
      password: canaries.userPassword,
      token_policies: 'reader',
    });
    if (pg !== undefined) {
      canaries.dbAdminPassword = pg.adminPassword;
      await api('POST', 'sys/mounts/database', { type: 'database' });
      await api('POST', 'database/config/pg', {
        plugin_name: pg.plugin,
        allowed_roles: 'app',
        username_template: `{{ printf "${PREFIX}_%s" (random 16) | lowercase }}`,
        ...pg.connectionFields(pg.service.endpoint.host, pg.service.endpoint.port),
      });
      await api('POST', 'database/roles/app', {
        db_name: 'pg',
        creation_statements: pg.creationStatements,
        default_ttl: '1h',
        max_ttl: '24h',
      });
    }
    // The UI signs in with a child token of root: signing out revokes it, not root.
    const admin = await api('POST', 'auth/token/create', {
      policies: ['root'],
      display_name: 'ui-admin',
    });
    adminToken = admin.auth.client_token;
    adminAccessor = admin.auth.accessor;
    canaries.rootToken = rootToken;
    canaries.adminToken = adminToken;
    context = await chromium.launchPersistentContext(dir.file('chromium-profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    writeFileSync(
      join(ARTIFACTS, 'run.json'),
      JSON.stringify({ chromium: context.browser()?.version() ?? 'persistent context' }, null, 2),
    );
    page = await newPage();
  }, 120_000);

  afterAll(async () => {
    writeFileSync(join(ARTIFACTS, 'axe.json'), JSON.stringify(axeReport, null, 2));
    await context?.close();
    await provider?.close();
    await killAllServers();
    await pg?.teardown();
    dir.remove();
  });

  it('serves the UI with a strict CSP and security headers, and the app for any screen path', async () => {
    const index = await fetch(`${server.url}/ui/`);
    expect(index.status).toBe(200);
    const csp = index.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(index.headers.get('x-content-type-options')).toBe('nosniff');
    expect(index.headers.get('referrer-policy')).toBe('no-referrer');
    expect(index.headers.get('cache-control')).toBe('no-store');
    const html = await index.text();
    // No inline script: every <script> has a src on this server.
    expect(html).not.toMatch(/<script(?![^>]*\bsrc="\/ui\/assets\/)[^>]*>/);
    const asset = /src="(\/ui\/assets\/[^"]+\.js)"/.exec(html)![1]!;
    const js = await fetch(`${server.url}${asset}`);
    expect(js.headers.get('cache-control')).toContain('immutable');
    expect(js.headers.get('content-type')).toContain('text/javascript');
    expect((await fetch(`${server.url}/ui/secrets/anything`)).status).toBe(200);
    expect((await fetch(`${server.url}/ui/assets/missing.js`)).status).toBe(404);
    const redirect = await fetch(`${server.url}/ui`, { redirect: 'manual' });
    expect(redirect.status).toBe(308);
  });

  it('signs in by token and shows every screen the token may use', async () => {
    await page.goto(`${server.url}/ui/`);
    await page.getByRole('heading', { name: 'Sign in to Coffer' }).waitFor();
    await shot(page, '01-sign-in');
    await axe(page, 'sign-in');
    // A wrong token gets the API's message.
    await page.locator('input[name=token]').fill('not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('permission denied');
    await signInWithToken(page, adminToken);
    const nav = page.getByRole('navigation', { name: 'Main' });
    for (const name of [
      'Secrets',
      'Policies',
      'Explain access',
      'Tokens',
      'Auth methods',
      'Leases',
      'Audit',
    ]) {
      await visible(nav.getByRole('link', { name }));
    }
  });

  it('creates a secret, edits it, shows both versions and their diff', async () => {
    const tree = page.getByRole('navigation', { name: 'Secrets tree' });
    await tree.getByRole('link', { name: 'open folder secret/' }).click();
    await page.getByRole('link', { name: 'New secret' }).click();
    await page.getByLabel('Path').fill('app/db');
    await page.getByLabel('Key 1').fill('username');
    await page.getByLabel('Value 1').fill('admin');
    await page.getByRole('button', { name: 'Add row' }).click();
    await page.getByLabel('Key 2').fill('password');
    await page.getByLabel('Value 2').fill(canaries.firstValue!);
    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.getByTestId('version').textContent()).toContain('Version 1');
    // Hidden until revealed.
    await count(page.getByText(canaries.firstValue!), 0);
    await page.getByRole('button', { name: 'Reveal value of password' }).click();
    await visible(page.getByText(canaries.firstValue!));
    await shot(page, '02-secret');
    await axe(page, 'secret');

    await page.getByRole('button', { name: 'Edit' }).click();
    await page.getByLabel('Value 2').fill(canaries.secondValue!);
    await page.getByRole('button', { name: 'Add row' }).click();
    await page.getByLabel('Key 3').fill('api_key');
    await page.getByLabel('Value 3').fill(canaries.apiKey!);
    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.getByTestId('version').textContent()).toContain('Version 2');

    await page.getByRole('tab', { name: 'Versions' }).click();
    await hasText(page.getByRole('table').first(), 'current: 2');
    await hasText(
      page.getByRole('status').filter({ hasText: 'Version 1 → 2' }),
      '1 added, 0 removed, 1 changed, 1 unchanged',
    );
    const diff = page.locator('table.diff');
    await hasText(diff.locator('tr.diff-changed'), 'password');
    await hasText(diff.locator('tr.diff-added'), 'api_key');
    await shot(page, '03-versions-diff');
    await axe(page, 'versions-diff');
  });

  it('deletes the latest version and undeletes it', async () => {
    await page.getByRole('tab', { name: 'Data', exact: true }).click();
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    await visible(page.getByText('This version is deleted'));
    const meta = await api('GET', 'secret/metadata/app/db');
    expect(meta.data.versions['2'].deletion_time).not.toBe('');
    await page.getByRole('button', { name: 'Undelete version 2' }).click();
    await visible(page.getByRole('button', { name: 'Reveal value of api_key' }));
    const after = await api('GET', 'secret/metadata/app/db');
    expect(after.data.versions['2'].deletion_time).toBe('');
    // Destroy version 1 for good, from the version history.
    await page.getByRole('tab', { name: 'Versions' }).click();
    await page.getByRole('button', { name: 'Destroy 1' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Destroy 1' }).click();
    await expect
      .poll(async () => (await api('GET', 'secret/metadata/app/db')).data.versions['1'].destroyed)
      .toBe(true);
    await hasText(page.locator('tbody tr').filter({ hasText: 'destroyed' }), 'destroyed');
    await page.getByRole('tab', { name: 'Data', exact: true }).click();
  });

  it('shows a check-and-set conflict as such, and saves custom metadata', async () => {
    await page.getByRole('button', { name: 'Edit' }).click();
    // Someone else writes version 3 while this editor holds version 2.
    await api('POST', 'secret/data/app/db', {
      data: { username: 'admin', password: canaries.secondValue, api_key: canaries.apiKey },
    });
    await page.getByLabel('Value 1').fill('someone-else-lost');
    await page.getByRole('button', { name: 'Save' }).click();
    await hasText(page.locator('.conflict'), 'someone saved a newer version');
    await hasText(page.getByRole('alert').first(), 'check-and-set parameter did not match');
    await page.getByRole('button', { name: 'Load the latest version' }).click();
    await hasText(page.getByTestId('version'), 'Version 3');
    expect((await api('GET', 'secret/data/app/db')).data.data.username).toBe('admin');

    await page.getByRole('tab', { name: 'Metadata' }).click();
    await page.getByLabel('Key 1').fill('owner');
    await page.getByLabel('Value 1').fill('team-payments');
    await page.getByRole('button', { name: 'Save metadata' }).click();
    await expect
      .poll(async () => (await api('GET', 'secret/metadata/app/db')).data.custom_metadata)
      .toEqual({ owner: 'team-payments' });
    await page.getByRole('tab', { name: 'Data', exact: true }).click();
  });

  it('shares by a one-time link that opens once, and fails the second time', async () => {
    await page.getByRole('tab', { name: 'Share' }).click();
    await page.getByRole('button', { name: 'Create one-time link' }).click();
    const link = await page.getByTestId('share-link').inputValue();
    expect(link).toMatch(new RegExp(`^${server.url}/ui/share#`));
    shareToken = link.split('#')[1]!;
    expect(shareToken).not.toBe('');

    const receiver = await newPage();
    await receiver.goto(link);
    await receiver.getByRole('button', { name: 'Open the secret' }).waitFor();
    // The token is taken out of the address bar at once.
    expect(receiver.url()).toBe(`${server.url}/ui/share`);
    await shot(receiver, '04-share-open');
    await axe(receiver, 'share-open');
    await receiver.getByRole('button', { name: 'Open the secret' }).click();
    await receiver.getByRole('button', { name: 'Reveal value of api_key' }).click();
    await visible(receiver.getByText(canaries.apiKey!));
    await receiver.close();

    const second = await newPage();
    await second.goto(link);
    await hasText(second.getByRole('alert'), 'This link cannot be opened.');
    await hasText(second.getByRole('alert'), 'wrapping token is not valid or does not exist');
    await shot(second, '05-share-second-opening');
    await second.close();
  });

  it('points at a policy syntax error by line and column, then saves the fixed policy', async () => {
    await page.getByRole('link', { name: 'Policies' }).click();
    await page.getByRole('link', { name: 'New policy' }).click();
    await page.getByLabel('Name').fill('team');
    await page
      .getByLabel('Policy text (HCL or JSON)')
      .fill('path "secret/data/team/*" {\n  capabilities = ["read" "list"]\n}\n');
    await page.getByRole('button', { name: 'Save policy' }).click();
    const error = page.locator('.error.syntax');
    await hasText(error, 'Line 2, column 26:');
    await hasText(error, "expected ',' or ']'");
    await hasText(page.locator('.gutter .bad'), '2\n');
    // The caret sits at the error.
    const caret = await page
      .getByLabel('Policy text (HCL or JSON)')
      .evaluate((el) => (el as unknown as { selectionStart: number }).selectionStart);
    expect(caret).toBe('path "secret/data/team/*" {\n'.length + 25);
    await shot(page, '06-policy-syntax-error');
    await axe(page, 'policy-error');
    await page
      .getByLabel('Policy text (HCL or JSON)')
      .fill('path "secret/data/team/*" {\n  capabilities = ["read", "list"]\n}\n');
    await page.getByRole('button', { name: 'Save policy' }).click();
    await page.getByRole('heading', { name: 'Policy team' }).waitFor();
    expect((await api('GET', 'sys/policies/acl/team')).data.policy).toContain('"read", "list"');
  });

  it("explains a denial for a role's policies and names the deciding rule", async () => {
    await page.getByRole('link', { name: 'Explain access' }).click();
    await page.getByLabel("A set of policies (a role's)").check();
    await page.getByLabel('Policies, comma-separated').fill('reader');
    await page.getByLabel('Path').fill('secret/data/app/db');
    await page.getByLabel('Operation').selectOption('update');
    await page.getByRole('button', { name: 'Explain' }).click();
    const heading = page.getByRole('heading', { name: /Denied/ });
    await visible(heading);
    const deciding = page.locator('tr.deciding');
    await hasText(deciding, 'reader line 1');
    await hasText(deciding, 'secret/data/app/*');
    await hasText(deciding, 'read');
    await shot(page, '07-explain-denial');
    await axe(page, 'explain');
  });

  it('issues a PostgreSQL credential and revokes it', async (ctx) => {
    if (pg === undefined) {
      ctx.skip();
      return;
    }
    await page.getByRole('link', { name: 'Databases' }).click();
    await page.getByRole('button', { name: 'Issue credentials for app' }).click();
    const creds = page.getByTestId('db-creds');
    await creds.waitFor();
    const username = (await creds.locator('dd code').first().textContent()) ?? '';
    expect(username.startsWith(`${PREFIX}_`)).toBe(true);
    expect(await pg.userExists(username)).toBe(true);
    const leases = await api('LIST', 'sys/leases/lookup/database/creds/app/');
    expect(leases.data.keys).toHaveLength(1);
    await shot(page, '08-database-credentials');
    await axe(page, 'database');
    await creds.getByRole('button', { name: 'Revoke these credentials' }).click();
    await page
      .getByRole('dialog')
      .getByRole('button', { name: 'Revoke these credentials' })
      .click();
    await count(creds, 0);
    await expect.poll(() => pg!.userExists(username)).toBe(false);
  });

  it('shows the audit devices and the verified hash chain, and finds entries', async () => {
    await page.getByRole('link', { name: 'Audit' }).click();
    const verdict = page.getByTestId('audit-verification');
    await hasText(verdict, 'Hash chain verified');
    await hasText(verdict, 'with valid signatures');
    await hasText(verdict, 'the file ends where the server last wrote');
    await page
      .getByLabel('Search recent entries (path, operation, or an HMAC)')
      .fill('secret/data/app/db');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await hasText(page.locator('table.entries caption'), 'secret/data/app/db');
    await page.getByRole('button', { name: 'Show entry 1', exact: true }).click();
    await hasText(page.locator('pre.json'), '"client_token": "hmac-sha256:');
    await shot(page, '09-audit');
    await axe(page, 'audit');
  });

  it('creates a token and revokes it by accessor', async () => {
    await page.getByRole('link', { name: 'Tokens' }).click();
    await page.getByLabel('Policies, comma-separated').fill('reader');
    await page.getByRole('button', { name: 'Create token' }).click();
    const accessor = (await page.getByTestId('new-accessor').textContent()) ?? '';
    expect(accessor).not.toBe('');
    await page.locator('input[name=lookup-accessor]').fill(accessor);
    await page.getByRole('button', { name: 'Look up' }).click();
    await hasText(page.locator('dl.facts').last(), 'reader');
    await page.getByRole('button', { name: 'Revoke this token' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke this token' }).click();
    await visible(page.getByText('Token revoked'));
    const lookup = await vaultRequest(server.url, 'POST', 'auth/token/lookup-accessor', {
      token: rootToken,
      body: { accessor },
    });
    expect(lookup.status).toBe(400);
    await shot(page, '12-tokens');
  });

  it('lists auth methods with their users, and leases with their expiry', async () => {
    await page.getByRole('link', { name: 'Auth methods' }).click();
    await page.getByRole('link', { name: 'userpass/' }).click();
    await page.getByRole('button', { name: 'alice' }).click();
    await hasText(page.locator('.detail'), 'reader');
    await page.getByRole('link', { name: 'Explain access with these policies' }).click();
    expect(await page.getByLabel('Policies, comma-separated').inputValue()).toBe('reader');
    if (pg !== undefined) {
      await page.getByRole('link', { name: 'Databases' }).click();
      await page.getByRole('button', { name: 'Issue credentials for app' }).click();
      await page.getByTestId('db-creds').waitFor();
      await page.getByRole('link', { name: 'Leases', exact: true }).click();
      await page.locator('input[name=lease-prefix]').fill('database/creds/app/');
      await page.getByRole('button', { name: 'Go' }).click();
      await hasText(page.locator('table'), 'left');
      await page.getByRole('button', { name: /^Renew/ }).click();
      await count(page.locator('td .error'), 0);
      await shot(page, '10-leases');
      await axe(page, 'leases');
      await page.getByRole('button', { name: 'Revoke all under database/creds/app/' }).click();
      await page
        .getByRole('dialog')
        .getByRole('button', { name: /Revoke all/ })
        .click();
      await visible(page.getByText('Revoked every lease under database/creds/app/'));
      const left = await vaultRequest(server.url, 'LIST', 'sys/leases/lookup/database/creds/app/', {
        token: rootToken,
      });
      expect(left.status).toBe(404);
    }
  });

  it('signs in with OIDC through the provider redirect', async () => {
    provider = await startTestProvider({ now: () => Date.now() });
    provider.user = { sub: 'oidc-carol' };
    await api('POST', 'sys/auth/oidc', { type: 'oidc' });
    await api('POST', 'auth/oidc/config', {
      oidc_discovery_url: provider.issuer,
      oidc_client_id: provider.clientId,
      oidc_client_secret: provider.clientSecret,
      default_role: 'web',
    });
    await api('POST', 'auth/oidc/role/web', {
      role_type: 'oidc',
      user_claim: 'sub',
      allowed_redirect_uris: [`${server.url}/ui/oidc/callback`],
      token_policies: ['reader'],
    });
    const p = await newPage();
    await p.goto(`${server.url}/ui/`);
    await p.getByRole('tab', { name: 'OIDC' }).click();
    await p.getByRole('button', { name: 'Continue with OIDC' }).click();
    await p.getByRole('button', { name: 'Sign out' }).waitFor();
    await hasText(p.locator('.who'), 'reader');
    // The provider's code was taken out of the address bar.
    expect(p.url()).toBe(`${server.url}/ui/secrets`);
    await p.getByRole('button', { name: 'Sign out' }).click();
    await p.getByRole('heading', { name: 'Sign in to Coffer' }).waitFor();
    await p.close();
  });

  it('signs out by revoking the token', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Revoke the token and sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to Coffer' }).waitFor();
    const lookup = await vaultRequest(server.url, 'POST', 'auth/token/lookup-accessor', {
      token: rootToken,
      body: { accessor: adminAccessor },
    });
    expect(lookup.status).toBe(400);
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
  });

  it('a userpass user sees only what the policy allows and gets the API message on a denied write', async () => {
    const p = await newPage(390);
    await p.goto(`${server.url}/ui/`);
    // By keyboard only: arrow keys between the sign-in tabs, Tab between fields, Enter.
    await p.getByRole('tab', { name: 'Token' }).focus();
    await p.keyboard.press('ArrowRight');
    expect(await p.getByRole('tab', { name: 'Username' }).getAttribute('aria-selected')).toBe(
      'true',
    );
    await p.keyboard.press('Tab');
    await p.keyboard.press('Tab');
    await p.keyboard.type('alice');
    await p.keyboard.press('Tab');
    await p.keyboard.type(canaries.userPassword!);
    await p.keyboard.press('Enter');
    await p.getByRole('button', { name: 'Sign out' }).waitFor();
    const nav = p.getByRole('navigation', { name: 'Main' });
    await visible(nav.getByRole('link', { name: 'Secrets' }));
    for (const hidden of ['Policies', 'Audit', 'Leases', 'Auth methods', 'Databases']) {
      await count(nav.getByRole('link', { name: hidden }), 0);
    }
    await openSecret(p, 'secret/', 'app/', 'db');
    await expect.poll(() => p.getByTestId('version').textContent()).toContain('Version 3');
    await shot(p, '13-limited-user-narrow');
    await axe(p, 'limited-narrow');
    await p.getByRole('button', { name: 'Edit' }).click();
    await p.getByLabel('Value 1').fill('changed');
    await p.getByRole('button', { name: 'Save' }).click();
    await hasText(p.getByRole('alert'), 'Permission denied (HTTP 403): permission denied');
    // A screen it may not use, reached by URL, shows the API's refusal too.
    await p.goto(`${server.url}/ui/audit`);
    await hasText(p.getByRole('alert').first(), 'Permission denied (HTTP 403)');
    await p.close();
  });

  it('leaked no token, password or secret value into a URL, localStorage or the console', async () => {
    const everywhere = {
      urls: [...requestUrls, ...pageUrls].join('\n'),
      console: consoleLines.join('\n'),
      localStorage: await localStorageText(page),
    };
    for (const [where, text] of Object.entries(everywhere)) {
      expect(shareToken.length).toBeGreaterThan(10);
      const found = Object.entries({ ...canaries, shareToken })
        .filter(([name]) => !(where === 'urls' && name === 'shareToken'))
        .filter(([, value]) => value !== '' && text.includes(value))
        .map(([name]) => name);
      expect(found, `${where} holds ${found.join(', ')}`).toEqual([]);
    }
    // The share link is the one URL that carries a token, in its fragment: never sent, and
    // removed from the address bar on opening.
    const withShare = requestUrls.filter((u) => u.includes(shareToken));
    expect(withShare).toEqual([]);
    expect(
      pageUrls.filter((u) => u.includes(shareToken)).every((u) => u.includes(`#${shareToken}`)),
    ).toBe(true);
    expect(everywhere.localStorage).toBe('{}');
    expect(cspViolations).toEqual([]);
    expect(requestUrls.length).toBeGreaterThan(50);
    writeFileSync(
      join(ARTIFACTS, 'leak-check.json'),
      JSON.stringify({ requests: requestUrls.length, consoleLines: consoleLines.length }, null, 2),
    );
  });
});
