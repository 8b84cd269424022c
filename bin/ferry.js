#!/usr/bin/env node
// The ferry command, from the build (`npm run build` makes dist/).
await import('../dist/cli/main.js');
