/**
 * `ferry local`: the embedded multi-region deployment with a demo account, each region in a process of its
 * own under this one (deploy/supervisor.ts), until Ctrl-C. The server modules are loaded only when the command
 * runs, so the client commands start quickly.
 * @module
 */
import { DEMO_BASE_PORT, DEMO_REGIONS } from '../../deploy/demo.js';
import path from 'node:path';
import type { Command } from 'commander';
import { example } from '../context.js';
import { stopOnSignals } from '../signals.js';

/** The demo's defaults, repeated from deploy/local.ts so the help needs no server module. */

interface LocalOptions {
  data: string;
  port: string;
  regions: string;
  settings?: string;
  log: boolean;
}

export function registerLocalCommand(program: Command): void {
  example(
    program
      .command('local')
      .description(
        'Run demo regions on loopback, each with its own SQLite file and blob folder, and a demo account.',
      )
      .option('--data <dir>', 'data folder (one subfolder per region)', './data')
      .option('--port <port>', 'port of the first region; the others follow', String(DEMO_BASE_PORT))
      .option(
        '--regions <names>',
        'comma-separated region names (only when the data folder is new)',
        DEMO_REGIONS.join(','),
      )
      .option('--settings <file>', 'deployment settings (JSON): limits, replication rules, TLS')
      .option('--log', 'print JSON request logs (without it, only errors are printed)', false),
    'ferry local --data ./data --port 9301',
  ).action(async (options: LocalOptions) => {
    const [{ loadSettings }, { superviseLocal }] = await Promise.all([
      import('../../config/settings.js'),
      import('../../deploy/supervisor.js'),
    ]);
    const settings = await loadSettings(options.settings);
    const deployment = await superviseLocal({
      ...settings,
      // The demo's webhook receivers are on this machine, like its regions; a settings file may say otherwise.
      replication: { webhookPrivateAddresses: true, ...settings.replication },
      dataDir: path.resolve(options.data),
      basePort: Number(options.port),
      regions: options.regions.split(',').map((r) => r.trim()),
      // Faults inside Ferry are printed even without --log: docs/errors.md promises they are logged.
      logger: options.log ? true : { level: 'error' },
    });
    const first = deployment.regions[0]!;
    const lines = [
      'Ferry is running.',
      '',
      'Regions:',
      ...deployment.regions.map((r) => `  ${r.name.padEnd(10)} ${r.url}`),
      '',
      `Each region runs in a process of its own (${deployment.regions.map((r) => `${r.name} pid ${r.pid}`).join(', ')}),`,
      `supervised by this one (pid ${process.pid}): a region process that ends is started again.`,
      '',
      `Demo account: ${'demo'} (a project named after each region; agency ferry_copy may replicate into every region)`,
      `Token (valid 7 days, every region): ${deployment.demo.token}`,
      `Console: ${first.url}/console/ (sign in with the token; every region serves it)`,
      '',
      'Try:',
      `  ferry configure --catalog ${deployment.clientCatalogFile} --region ${first.name} --token ${deployment.demo.token}`,
      `  curl -s -H "X-Auth-Token: ${deployment.demo.token}" ${first.url}/v2/images`,
      `  openstack --os-auth-type admin_token --os-endpoint ${first.url}/v2 --os-token ${deployment.demo.token} image list`,
      '',
      `Region catalog for clients: ${deployment.clientCatalogFile}. The servers' catalog: ${deployment.catalogFile};`,
      `each region's credential for region-to-region calls: ${path.join(path.resolve(options.data), '<region>', 'region-credential')}`,
      `(mode 0600; rotate with \`ferry region credential rotate\`). Data: ${path.resolve(options.data)}. Stop with Ctrl-C.`,
    ];
    console.log(lines.join('\n'));
    stopOnSignals(() => deployment.close());
    void deployment.allGaveUp.then(() => {
      console.error('ferry: no region is running any more; stopping');
      process.exit(1);
    });
  });
}
