// A DNS-01 hook for tests: publishes the TXT record through pebble-challtestsrv's management
// API (CHALLTESTSRV), as an operator's hook would through their DNS provider's API.
const base = process.env.CHALLTESTSRV;
const name = `${process.env.CERTGATE_DNS_NAME}.`;
const action = process.env.CERTGATE_DNS_ACTION;
const path = action === 'present' ? '/set-txt' : '/clear-txt';
const body = action === 'present' ? { host: name, value: process.env.CERTGATE_DNS_VALUE } : { host: name };
const res = await fetch(`${base}${path}`, { method: 'POST', body: JSON.stringify(body) });
if (!res.ok) {
  console.error(`challtestsrv ${path} answered ${res.status}`);
  process.exit(1);
}
