import { Type } from 'typebox';
import { hostDomains, protectionRefusal } from '@uckpt/engine';
import { errors } from '../schemas/common.js';
import { HostDomainsView } from '../schemas/host.js';
import { protectorOf } from './protected-domains.js';
import { typed, type Routes } from './context.js';

export const hostRoutes: Routes = async (app, { describeHost, supervisor }) => {
  const api = typed(app);
  api.get('/api/host', {
    config: { access: 'viewer' },
    schema: {
      tags: ['service'],
      summary: 'Which hypervisor the service uses, whether it is emulated, and what this host lacks',
      response: { 200: Type.Ref('Host'), ...errors(401) },
    },
  }, async () => describeHost());

  api.get('/api/host/domains', {
    config: { access: 'viewer' },
    schema: {
      tags: ['service'],
      summary: "A Xen host's domains, which VM protects each, and why one cannot be protected",
      description: 'Answers 503 on a host without Xen.',
      response: { 200: HostDomainsView, ...errors(401, 503) },
    },
  }, async () => {
    const [domains, vms] = await Promise.all([hostDomains(), supervisor.list()]);
    return {
      domains: domains.map((domain) => ({
        ...domain,
        protectedBy: protectorOf(vms, domain.domid),
        refusal: protectionRefusal(domain),
      })),
    };
  });
};
