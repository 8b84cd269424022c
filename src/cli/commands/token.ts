/**
 * `ferry admin token create|list|revoke`: API tokens. `create` issues one for yourself (your token's user and
 * project), or, for an administrator, for any user (`--user`, `--account`, `--project`); `list` and `revoke`
 * take `--user` too (administrators), and `revoke --user U --all` revokes every token of the user. A token's secret is
 * shown once; `--quiet` prints only the secret. A new token works in every region where its maker's token works
 * (a user's: where the user has a project of the same name, or named after the region); see replication/token-copies.ts.
 * @module
 */
import type { Command } from 'commander';
import { example, withContext } from '../context.js';
import { UsageError } from '../errors.js';
import { resolveAccountId, resolveUserId, type AccountDetail } from '../identity.js';

interface TokenView {
  id: string;
  user_id: string;
  project_id: string;
  description: string;
  created_at: string;
  expires_at: string;
  revoked: boolean;
  secret?: string;
  /** Where a new token works (it is copied to every region where its maker's token works). */
  regions?: string[];
  not_reached?: string[];
}

const HEX_ID = /^[0-9a-f]{32}$/;

export function registerAdminTokenCommands(admin: Command): void {
  const token = example(admin.command('token').description('API tokens.'), 'ferry admin token list');

  example(
    token
      .command('create')
      .description(
        'Issue a token (yours, or a user’s for administrators); shown once, with the regions it works in.',
      )
      .option('--user <id|name>', 'issue it for this user (administrators; a name needs --account)')
      .option('--account <id|name>', 'the user’s account')
      .option('--project <id>', 'the project it acts in (default: the account’s project in this region)')
      .option('--description <text>', 'what the token is for (own tokens)')
      .option('--ttl <seconds>', 'lifetime in seconds (60 to 31622400)'),
    'ferry admin token create --description ci',
    'ferry admin token create --account acme --user alice',
  ).action(
    withContext<
      [],
      { user?: string; account?: string; project?: string; description?: string; ttl?: string }
    >(async (ctx, o) => {
      const client = await ctx.client();
      const ttl = o.ttl === undefined ? undefined : Number(o.ttl);
      if (ttl !== undefined && !Number.isInteger(ttl))
        throw new UsageError('--ttl must be a whole number of seconds');
      let issued: TokenView;
      if (o.user === undefined) {
        issued = await client.request<TokenView>('POST', '/v1/tokens', {
          json: { description: o.description, ttl_seconds: ttl },
        });
      } else {
        let userId = o.user;
        let projectId = o.project;
        if (!HEX_ID.test(o.user) || projectId === undefined) {
          if (o.account === undefined)
            throw new UsageError('give --account with a user name, or --user ID --project ID');
          const accountId = await resolveAccountId(client, o.account);
          const detail = await client.request<AccountDetail>('GET', `/v1/admin/accounts/${accountId}`);
          const user = detail.users.find((u) => u.id === o.user || u.name === o.user);
          if (!user) throw new UsageError(`account ${detail.name} has no user ${o.user}`);
          userId = user.id;
          const here = detail.projects.filter(
            (p) => p.region === client.region || client.region === undefined,
          );
          projectId ??= (here.find((p) => p.name === client.region) ?? here[0])?.id;
          if (projectId === undefined)
            throw new UsageError(`account ${detail.name} has no project in this region`);
        }
        issued = await client.request<TokenView>('POST', `/v1/admin/users/${userId}/tokens`, {
          json: { project_id: projectId, ttl_seconds: ttl },
        });
      }
      ctx.out.emit({
        json: issued,
        ids: [issued.secret ?? issued.id],
        human: () =>
          [
            `Token ${issued.id} for user ${issued.user_id}, project ${issued.project_id}, expires ${issued.expires_at}.`,
            `Works in: ${(issued.regions ?? []).join(', ')}${issued.not_reached?.length ? ` (not reached: ${issued.not_reached.join(', ')})` : ''}.`,
            `Secret (shown once): ${issued.secret}`,
          ].join('\n'),
      });
    }),
  );

  example(
    token
      .command('list')
      .description('List your tokens, or a user’s (administrators); never their secrets.')
      .option(
        '--user <id|name>',
        'this user’s tokens in this region (administrators; a name needs --account)',
      )
      .option('--account <id|name>', 'the user’s account'),
    'ferry admin token list',
    'ferry admin token list --user alice --account acme',
  ).action(
    withContext<[], { user?: string; account?: string }>(async (ctx, o) => {
      const client = await ctx.client();
      const path =
        o.user === undefined
          ? '/v1/tokens'
          : `/v1/admin/users/${await resolveUserId(client, o.user, o.account)}/tokens`;
      const { tokens, undelivered } = await client.request<{
        tokens: TokenView[];
        undelivered?: Array<{ region: string; kind: string; attempts: number; last_error: string | null }>;
      }>('GET', path);
      ctx.out.list(tokens, {
        id: (t) => t.id,
        columns: [
          { header: 'ID', value: (t) => t.id },
          { header: 'Description', value: (t) => t.description },
          { header: 'Created', value: (t) => t.created_at },
          { header: 'Expires', value: (t) => t.expires_at },
          { header: 'Revoked', value: (t) => (t.revoked ? 'yes' : '') },
        ],
      });
      for (const owed of undelivered ?? [])
        ctx.out.note(
          `Not yet in ${owed.region}: ${owed.kind} (${owed.attempts} tries${owed.last_error ? `, last: ${owed.last_error}` : ''}); retried until it arrives.`,
        );
    }),
  );

  example(
    token
      .command('revoke')
      .argument('[token...]', 'token IDs (not secrets)')
      .option('--user <id|name>', 'revoke this user’s tokens (administrators; a name needs --account)')
      .option('--account <id|name>', 'the user’s account')
      .option('--all', 'with --user: every token issued to the user so far')
      .description('Revoke tokens in every region: yours, or a user’s (administrators).'),
    'ferry admin token revoke 6b1f…',
    'ferry admin token revoke --user alice --account acme --all',
  ).action(
    withContext<[string[]], { user?: string; account?: string; all?: boolean }>(async (ctx, o, ids) => {
      const client = await ctx.client();
      if (o.all === true && (o.user === undefined || ids.length > 0))
        throw new UsageError('--all takes --user and no token IDs');
      if (o.all !== true && ids.length === 0)
        throw new UsageError('name the tokens to revoke, or --user U --all');
      const base =
        o.user === undefined
          ? '/v1/tokens'
          : `/v1/admin/users/${await resolveUserId(client, o.user, o.account)}/tokens`;
      if (o.all === true) {
        await client.request('DELETE', base);
        ctx.out.note(`Revoked every token of user ${o.user}.`);
        return;
      }
      for (const id of ids) {
        await client.request('DELETE', `${base}/${encodeURIComponent(id)}`);
        ctx.out.note(`Revoked token ${id}.`);
      }
    }),
  );
}
