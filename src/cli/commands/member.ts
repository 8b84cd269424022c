/**
 * `ferry member add|remove|accept|reject|list`: sharing an image with other projects of the region (the
 * owner adds and removes members; a member accepts or rejects for its own project).
 * @module
 */
import type { Command } from 'commander';
import type { FerryClient } from '../client.js';
import { example, withContext, type CliContext } from '../context.js';
import { resolveImageId } from '../images.js';
import type { MemberView } from '../../api/schemas/image.js';

function printMembers(ctx: CliContext, members: MemberView[]): void {
  ctx.out.list(members, {
    id: (m) => m.member_id,
    empty: 'No members.',
    columns: [
      { header: 'Image', value: (m) => m.image_id },
      { header: 'Member', value: (m) => m.member_id },
      { header: 'Status', value: (m) => m.status },
      { header: 'Updated', value: (m) => m.updated_at },
    ],
  });
}

async function ownProjectId(client: FerryClient): Promise<string> {
  const me = await client.request<{ project: { id: string } }>('GET', '/v1/auth/whoami');
  return me.project.id;
}

export function registerMemberCommands(program: Command): void {
  const member = example(
    program.command('member').description('Share images with other projects of the region.'),
    'ferry member add my-image 5d7f0a…',
  );

  example(
    member
      .command('add')
      .argument('<image>', 'image ID or name (yours, with visibility shared)')
      .argument('<project...>', 'project IDs to share it with')
      .description('Share an image with projects (each then accepts or rejects it).'),
    'ferry member add my-image 5d7f0a1e9c2b4a7d8e6f0a1b2c3d4e5f',
  ).action(
    withContext<[string, string[]]>(async (ctx, _o, ref, projects) => {
      const client = await ctx.client();
      const id = await resolveImageId(client, ref);
      const added: MemberView[] = [];
      for (const project of projects) {
        added.push(
          await client.request<MemberView>('POST', `/v2/images/${id}/members`, { json: { member: project } }),
        );
      }
      printMembers(ctx, added);
    }),
  );

  example(
    member
      .command('remove')
      .argument('<image>', 'image ID or name')
      .argument('<project...>', 'member project IDs')
      .description('Stop sharing an image with projects.'),
    'ferry member remove my-image 5d7f0a1e9c2b4a7d8e6f0a1b2c3d4e5f',
  ).action(
    withContext<[string, string[]]>(async (ctx, _o, ref, projects) => {
      const client = await ctx.client();
      const id = await resolveImageId(client, ref);
      for (const project of projects) {
        await client.request('DELETE', `/v2/images/${id}/members/${encodeURIComponent(project)}`);
        ctx.out.note(`Image ${id} is no longer shared with ${project}.`);
      }
    }),
  );

  for (const [verb, status] of [
    ['accept', 'accepted'],
    ['reject', 'rejected'],
  ] as const) {
    example(
      member
        .command(verb)
        .argument('<image>', 'ID of an image shared with your project')
        .option('--project <id>', 'the member project (default: your token’s)')
        .option('--vault <id>', 'accepting a whole-server image: your vault (protection type backup)')
        .description(`${verb === 'accept' ? 'Accept' : 'Reject'} an image shared with your project.`),
      `ferry member ${verb} 0c7e5a52-…`,
    ).action(
      withContext<[string], { project?: string; vault?: string }>(async (ctx, o, ref) => {
        const client = await ctx.client();
        const id = await resolveImageId(client, ref);
        const project = o.project ?? (await ownProjectId(client));
        const view = await client.request<MemberView>(
          'PUT',
          `/v2/images/${id}/members/${encodeURIComponent(project)}`,
          {
            json: { status, vault_id: o.vault },
          },
        );
        printMembers(ctx, [view]);
      }),
    );
  }

  example(
    member.command('list').argument('<image>', 'image ID or name').description('List an image’s members.'),
    'ferry member list my-image',
  ).action(
    withContext<[string]>(async (ctx, _o, ref) => {
      const client = await ctx.client();
      const id = await resolveImageId(client, ref);
      const { members } = await client.request<{ members: MemberView[] }>('GET', `/v2/images/${id}/members`);
      printMembers(ctx, members);
    }),
  );
}
