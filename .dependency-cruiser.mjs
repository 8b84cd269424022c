/**
 * Ferry's import rules, checked by `npm run lint` (docs/architecture.md, "Folders and the direction of
 * imports"). Each folder may import only the folders below it:
 *
 *   cli                the `ferry` command
 *   deploy             a local deployment: processes, supervisor, demo data
 *   region             assembles a region: context, server, workers, periodic tasks
 *   api                HTTP: parse, call a use case, answer
 *   replication        use cases between regions (both sides) and the region-to-region protocol
 *   images             use cases within a region
 *   identity           accounts, tokens, agencies
 *   store, blobs, formats   rows, chunks and packs, disk-image formats
 *   config             settings and catalog, with their defaults
 *   lib                helpers that know nothing of images
 *   domain             types and rules; imports nothing
 *
 * One exception: `region/context.ts`, the type of what a region's use cases are given, may be named from
 * identity up (it imports only types itself).
 */
const layers = [
  ['domain'],
  ['lib'],
  ['config'],
  ['store', 'blobs', 'formats'],
  ['identity'],
  ['images'],
  ['replication'],
  ['api'],
  ['region'],
  ['deploy'],
  ['cli'],
];

const CONTEXT = '^src/region/context\\.ts$';
const above = (index) => layers.slice(index + 1).flat();
const folders = (names) => `^src/(${names.join('|')})/`;

const layerRules = layers.flatMap((names, index) =>
  index === layers.length - 1
    ? []
    : [
        {
          name: `no-upward-from-${names.join('-')}`,
          comment: `${names.join(', ')} may import only the folders below it (.dependency-cruiser.mjs)`,
          severity: 'error',
          from: { path: folders(names) },
          to: {
            path: folders(above(index)),
            // identity and above may name the region's context type.
            ...(index >= layers.findIndex((l) => l.includes('identity')) ? { pathNot: CONTEXT } : {}),
          },
        },
      ],
);

// Folders of one layer do not import each other (blobs reads no rows; store knows no chunks).
const siblingRules = layers
  .filter((names) => names.length > 1)
  .flatMap((names) =>
    names.map((name) => ({
      name: `no-sibling-from-${name}`,
      comment: `${name} does not import ${names.filter((other) => other !== name).join(' or ')}`,
      severity: 'error',
      from: { path: folders([name]) },
      to: { path: folders(names.filter((other) => other !== name)) },
    })),
  );

export default {
  forbidden: [
    ...layerRules,
    ...siblingRules,
    {
      name: 'context-is-types-only',
      comment: 'region/context.ts is named from below region, so it may only import types',
      severity: 'error',
      from: { path: CONTEXT },
      to: { dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-circular',
      comment: 'no module depends on itself through others (type-only imports aside)',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
