/**
 * Where a webhook may be sent. A region POSTs to URLs its users give, from inside the cloud's network: left
 * open, a user could make it reach the region's own loopback services, the metadata address or a private
 * network (server-side request forgery). So a webhook must resolve to a public address, checked when it is
 * registered (a literal address or `localhost`) and again on every delivery, at the moment of connecting
 * (the address the connection uses is the one checked, so a name that changes its answer cannot slip
 * through); redirects are not followed. `replication.webhookPrivateAddresses` lifts the rule (the local
 * demo, where every receiver is on loopback).
 * @module
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { FerryError } from '../domain/errors.js';

/** Addresses that are not the public internet: loopback, private, link-local, shared, reserved, multicast. */
const NOT_PUBLIC = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  NOT_PUBLIC.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  NOT_PUBLIC.addSubnet(network, prefix, 'ipv6');

/** Whether `address` (an IP literal) is a public internet address. */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  // An IPv4 address written as IPv6 (::ffff:10.0.0.1) is judged as the IPv4 address it is.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped !== undefined) return !NOT_PUBLIC.check(mapped, 'ipv4');
  return !NOT_PUBLIC.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** Refuses a webhook URL that is not http(s), or names a non-public address outright. */
export function assertWebhookUrl(url: string, privateAddresses: boolean): URL {
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw new FerryError('VALIDATION_FAILED', 'url must be an http(s) URL.');
  }
  if (parsed.username || parsed.password) {
    throw new FerryError('VALIDATION_FAILED', 'url must not carry a user name or password.');
  }
  // `[::1]` is written with brackets, and `localhost.` is `localhost`.
  const host = parsed.hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '');
  const local =
    host === 'localhost' || host.endsWith('.localhost') || (isIP(host) !== 0 && !isPublicAddress(host));
  if (local && !privateAddresses) {
    throw new FerryError(
      'VALIDATION_FAILED',
      `url must reach a public address; ${parsed.hostname} is loopback, private or reserved.`,
    );
  }
  return parsed;
}

/** A DNS lookup that fails for names resolving to a non-public address. */
export const publicLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
    if (error) return callback(error, '', 0);
    const allowed = addresses.filter((a) => isPublicAddress(a.address));
    if (allowed.length === 0) {
      const refused = new Error(`${hostname} resolves to no public address`) as NodeJS.ErrnoException;
      refused.code = 'EADDRNOTPUBLIC';
      return callback(refused, '', 0);
    }
    if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, allowed);
    return callback(null, allowed[0]!.address, allowed[0]!.family);
  });
};

/** POSTs `body` to a webhook; resolves its HTTP status (a redirect is a status like any other). */
export function postWebhook(
  url: string,
  headers: Record<string, string>,
  body: string,
  options: { privateAddresses: boolean; timeoutMs: number },
): Promise<number> {
  const target = assertWebhookUrl(url, options.privateAddresses);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      target,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': Buffer.byteLength(body) },
        timeout: options.timeoutMs,
        ...(options.privateAddresses ? {} : { lookup: publicLookup }),
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}
