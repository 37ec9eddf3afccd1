// The stop-and-copy side of memaccess-compare.sh, run in the rig's dom0: attaches the Xen
// backend to a running uckpt workload domU, checkpoints it every INTERVAL_MS for SECONDS,
// and prints one JSON line with the guest's progress rate meanwhile (mailbox progress
// counter) and the epochs' costs; then detaches, leaving the domain running.
//
//   node e2e/xen/probe-sc.mjs DOMID [SECONDS (5)] [INTERVAL_MS (50)]
import { XenDomain } from '../../packages/native-xen/dist/index.js';
import { percentiles } from '../../packages/native-core/dist/index.js';

const [domid, seconds = 5, intervalMs = 50] = process.argv.slice(2).map(Number);
if (!Number.isInteger(domid)) {
  console.error('usage: node probe-sc.mjs DOMID [SECONDS] [INTERVAL_MS]');
  process.exit(2);
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const stats = (values) => {
  const { p50, p99 } = percentiles(values);
  const mean = values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0;
  const r = (x) => Math.round(x * 1000) / 1000;
  return { mean: r(mean), p50: r(p50), p99: r(p99) };
};

const domain = XenDomain.attach(domid);
try {
  const epochs = [];
  domain.on('epoch', (epoch) => epochs.push(epoch));
  const p0 = domain.mailbox().progress;
  const t0 = performance.now();
  domain.enableCheckpointing({ intervalMs, retention: 8 });
  await sleep(seconds * 1000);
  const units = domain.mailbox().progress - p0;
  const s = (performance.now() - t0) / 1000;
  console.log(
    JSON.stringify({
      domid,
      seconds,
      intervalMs,
      stopAndCopy: { units, s: Math.round(s * 1000) / 1000, perS: Math.round((units / s) * 1000) / 1000 },
      epochs: epochs.length,
      dirtyPages: stats(epochs.map((e) => e.dirtyPages)),
      pauseMs: stats(epochs.map((e) => e.pauseNs / 1e6)),
      cleanMs: stats(epochs.map((e) => e.harvestNs / 1e6)),
      copyMs: stats(epochs.map((e) => e.copyNs / 1e6)),
    }),
  );
} finally {
  domain.detach();
}
