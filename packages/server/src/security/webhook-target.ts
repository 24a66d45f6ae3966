import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { BlockList, isIP } from "node:net";

/**
 * Where outbound webhooks may go. A webhook URL is chosen by a workspace user, so the server must not become a
 * way to reach its own network (SSRF): unless the operator allows it, every address the host resolves to must be
 * public. The check runs when a webhook is saved and again inside every connection's DNS lookup, so a name that
 * later resolves elsewhere (DNS rebinding) is refused at delivery too.
 */
const PRIVATE = new BlockList();
for (const [net, bits] of [
  ["0.0.0.0", 8], // "this network"
  ["10.0.0.0", 8],
  ["100.64.0.0", 10], // carrier-grade NAT
  ["127.0.0.0", 8], // loopback
  ["169.254.0.0", 16], // link-local (cloud metadata services)
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15], // benchmarking
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, broadcast
] as const)
  PRIVATE.addSubnet(net, bits, "ipv4");
for (const [net, bits] of [
  ["::", 128], // unspecified
  ["::1", 128], // loopback
  ["fc00::", 7], // unique local
  ["fe80::", 10], // link-local
  ["ff00::", 8], // multicast
  ["64:ff9b::", 96], // NAT64: embeds an IPv4 address
  ["2002::", 16], // 6to4: embeds an IPv4 address
] as const)
  PRIVATE.addSubnet(net, bits, "ipv6");

export class WebhookTargetError extends Error {}

/** True for loopback, private, link-local, multicast and reserved addresses (IPv4-mapped IPv6 as its IPv4). */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return PRIVATE.check(address, "ipv4");
  if (family !== 6) return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return PRIVATE.check(mapped[1]!, "ipv4");
  return PRIVATE.check(address, "ipv6");
}

/** The URL, parsed, when it is an http(s) URL without credentials; else WebhookTargetError saying why. */
export function parseWebhookUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new WebhookTargetError(`"${text}" is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new WebhookTargetError(`a webhook URL must be http or https, not ${url.protocol.replace(":", "")}`);
  if (url.username || url.password)
    throw new WebhookTargetError("a webhook URL must not hold credentials; the signature authenticates the sender");
  return url;
}

function refused(host: string, address: string): WebhookTargetError {
  return new WebhookTargetError(
    `${host} resolves to ${address}, a private, loopback or link-local address; webhooks go to public addresses ` +
      "only unless the operator sets MODELVET_WEBHOOKS_ALLOW_PRIVATE=1",
  );
}

/** Every address of the host (a literal address is its own), or WebhookTargetError. */
function resolveAll(host: string): Promise<LookupAddress[]> {
  const bare = host.startsWith("[") ? host.slice(1, -1) : host;
  const family = isIP(bare);
  if (family) return Promise.resolve([{ address: bare, family }]);
  return new Promise((resolve, reject) =>
    dnsLookup(bare, { all: true }, (err, addresses) =>
      err ? reject(new WebhookTargetError(`cannot resolve ${bare}: ${err.code ?? err.message}`)) : resolve(addresses),
    ),
  );
}

/** Checks that the URL may be called now: refuses when any address of its host is private (unless allowed). */
export async function checkWebhookTarget(url: URL, allowPrivate: boolean): Promise<void> {
  const addresses = await resolveAll(url.hostname);
  if (addresses.length === 0) throw new WebhookTargetError(`${url.hostname} has no address`);
  if (allowPrivate) return;
  const bad = addresses.find((a) => isPrivateAddress(a.address));
  if (bad) throw refused(url.hostname, bad.address);
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for http(s).request that applies the same check to the addresses the connection will use, so what
 * was checked is what is connected to.
 */
export function guardedLookup(allowPrivate: boolean) {
  return (hostname: string, options: { all?: boolean }, callback: LookupCallback): void => {
    dnsLookup(hostname, { all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const bad = allowPrivate ? undefined : addresses.find((a) => isPrivateAddress(a.address));
      if (bad) return callback(refused(hostname, bad.address), []);
      if (addresses.length === 0) return callback(new WebhookTargetError(`${hostname} has no address`), []);
      if (options.all) return callback(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}
