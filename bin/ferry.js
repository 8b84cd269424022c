#!/usr/bin/env node
// Runs the ferry command from its TypeScript sources through tsx, so `npm link` / `npx ferry` work without a build.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
