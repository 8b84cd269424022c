// Requests that break a route schema are answered with one sentence naming the field and its rule: the
// replication and identity schemas compiled as Fastify compiles them (Ajv, verbose, no coercion).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Ajv, type ErrorObject } from 'ajv';
import { schemaErrorMessage } from '../../../src/api/schema-errors.js';
import { TokenBody } from '../../../src/api/schemas/identity.js';
import {
  CrossRegionCopyBody,
  InRegionCopyBody,
  JobListQuery,
  MIN_BANDWIDTH_LIMIT,
} from '../../../src/api/schemas/replication.js';
import { MAX_BANDWIDTH_LIMIT } from '../../../src/config/replication.js';

const ajv = new Ajv({ coerceTypes: false, removeAdditional: false, verbose: true, strict: false });

function messageFor(schema: object, value: unknown, part = 'body'): string | undefined {
  const validate = ajv.compile(schema);
  if (validate(value)) return undefined;
  return schemaErrorMessage(validate.errors as ErrorObject[], part);
}

const copy = { region: 'south-1', agency_name: 'ferry_copy' };

test('a valid request passes, with null where the handler treats it as left out', () => {
  assert.equal(messageFor(CrossRegionCopyBody, copy), undefined);
  assert.equal(messageFor(CrossRegionCopyBody, { ...copy, name: null, description: null }), undefined);
  assert.equal(messageFor(InRegionCopyBody, { name: 'copy of disk' }), undefined);
  assert.equal(messageFor(JobListQuery, { limit: '1000', status: 'RUNNING' }, 'querystring'), undefined);
});

test('each kind of fault is named with its field and rule', () => {
  assert.equal(
    messageFor(CrossRegionCopyBody, { ...copy, bandwith_limit: 1 }),
    'Unknown field bandwith_limit; this call takes name, description, region, regions, project_name, ' +
      'agency_name, vault_id, bandwidth_limit, name_prefix, share_with, client_token.',
  );
  assert.equal(messageFor(CrossRegionCopyBody, { region: 'south-1' }), 'agency_name is required.');
  assert.equal(messageFor(CrossRegionCopyBody, 'x'), 'The request body must be a JSON object.');
  assert.equal(
    messageFor(CrossRegionCopyBody, { ...copy, bandwidth_limit: 5 }),
    `bandwidth_limit must be an integer number of bytes per second from ${MIN_BANDWIDTH_LIMIT} (128 KiB/s) to ${MAX_BANDWIDTH_LIMIT} (100 GiB/s).`,
  );
  assert.equal(
    messageFor(CrossRegionCopyBody, { ...copy, regions: [] }),
    'regions must be a list of 1 to 50 names.',
  );
  for (const name of ['', '   ', 'a<b', 'tab\there', 'x'.repeat(129)]) {
    assert.equal(
      messageFor(InRegionCopyBody, { name }),
      'name must be 1 to 128 characters, not all blank, without <, > or control characters.',
      JSON.stringify(name),
    );
  }
  assert.equal(
    messageFor(JobListQuery, { limit: '0' }, 'querystring'),
    'limit must be an integer from 1 to 1000.',
  );
  assert.equal(
    messageFor(JobListQuery, { image_id: ['a', 'b'] }, 'querystring'),
    'image_id may be given once.',
  );
  assert.match(
    messageFor(JobListQuery, { status: 'DONE' }, 'querystring') ?? '',
    /^status must be one of INIT, RUNNING, SUCCESS, FAIL, CANCELLED\.$/,
  );
  assert.equal(
    messageFor(TokenBody, { ttl_seconds: 5 }),
    'ttl_seconds must be an integer from 60 to 31622400.',
  );
});
