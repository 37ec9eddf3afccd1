import { Type } from 'typebox';
import { errors } from '../schemas/common.js';
import { HostView } from '../schemas/host.js';
import { typed, type Routes } from './context.js';

export const hostRoutes: Routes = async (app, { describeHost }) => {
  typed(app).get('/api/host', {
    config: { access: 'viewer' },
    schema: {
      tags: ['service'],
      summary: 'Which hypervisor the service uses, whether it is emulated, and what this host lacks',
      response: { 200: Type.Ref('Host'), ...errors(401) },
    },
  }, async () => describeHost());
};
