#!/usr/bin/env -S node --initial-old-space-size=128
// The ferry command, from the build (`npm run build` makes dist/). The flag: see src/cli/node-flags.ts.
await import('../dist/cli/main.js');
