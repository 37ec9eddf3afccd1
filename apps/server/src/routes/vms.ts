import { defaultSettingsFor, defaultSpec, EngineError, guestKernelSettings, resolveDomain, type CheckpointSettings, type VmSpec } from '@uckpt/engine';
import { findWorkload } from '@uckpt/engine';
import { Type, type Static } from 'typebox';
import { errors, VmIdParams } from '../schemas/common.js';
import { CreateVmBody, SettingsAnswer, SettingsPatch, VmList } from '../schemas/vms.js';
import { typed, type Routes } from './context.js';
import { protectorOf } from './protected-domains.js';

type CreateFields = Omit<Static<typeof CreateVmBody>, 'settings' | 'domain'>;

/** The workload of a domain protected by name: its own software, not one of ours. */
const domainsOwnSoftware = 'domain';

/** A VM name from a domain's (Xen allows more characters than VM names do). */
function vmNameFor(domainName: string, domid: number): string {
  const name = domainName.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 63);
  return /^[A-Za-z0-9]/.test(name) ? name : `domain-${domid}`;
}

export const vmRoutes: Routes = async (app, { supervisor, timeouts, vmsChanged, describeHost }) => {
  const api = typed(app);
  // Creating and deleting VMs changes what /metrics lists.
  app.addHook('onResponse', async (request, reply) => {
    const { action } = request.routeOptions.config;
    if (reply.statusCode < 400 && (action === 'vm.create' || action === 'vm.delete')) {
      vmsChanged(action === 'vm.delete' ? (request.params as { id: string }).id : undefined);
    }
  });

  api.get('/api/vms', {
    config: { access: 'viewer' },
    schema: { tags: ['vms'], summary: 'Every protected VM with its live status', response: { 200: VmList, ...errors(401) } },
  }, async () => ({ vms: await supervisor.list() }));

  api.post('/api/vms', {
    config: { action: 'vm.create' },
    schema: {
      tags: ['vms'],
      summary: 'Create a KVM VM running a guest workload, or attach a running Xen domain, protected by checkpoints',
      description: 'Refused with 409 when the VM would pass the VM limit or the memory budget (the message says by how much), with 503 when this host cannot run the backend.',
      body: CreateVmBody,
      response: { 201: Type.Ref('VmView'), ...errors(400, 401, 403, 409, 429, 503, 504) },
    },
  }, async (request, reply) => {
    const { settings: patch, domain, ...fields } = request.body;
    const spec = domain === undefined ? withWorkload(fields) : await protectingDomain(domain, fields);
    if ((spec.backend === 'xen') !== (spec.domid !== undefined)) {
      throw new EngineError('invalid-argument', spec.backend === 'xen' ? 'backend xen needs domain or domid: the domain to attach' : 'domid is for backend xen only');
    }
    if (spec.domid !== undefined) {
      const holder = protectorOf(await supervisor.list(), spec.domid);
      if (holder) throw new EngineError('conflict', `domain ${domain ?? spec.domid} is already protected by VM ${holder}`);
    }
    if (spec.backend !== 'sim' && spec.workload !== domainsOwnSoftware) {
      try {
        findWorkload(spec.workload);
      } catch (error) {
        throw new EngineError('invalid-argument', (error as Error).message);
      }
    }
    // Xen's log-dirty re-arms every page at a CLEAN: nothing can be left
    // writable, so there is no prediction.
    if (spec.backend === 'xen' && patch?.predictor !== undefined && patch.predictor !== 'off') {
      throw new EngineError('invalid-argument', "dirty-page prediction is not available on Xen (a log-dirty CLEAN re-arms every page): use predictor 'off'");
    }
    const backendDefaults = {
      ...(spec.backend === 'xen' ? { predictor: 'off' as const } : {}),
      ...(spec.workload === domainsOwnSoftware ? guestKernelSettings : {}),
    };
    const settings: CheckpointSettings = { ...defaultSettingsFor(describeHost()), ...backendDefaults, ...patch };
    const view = await withTimeout(supervisor.create(spec, settings), timeouts.createMs, 'creating the VM');
    return reply.status(201).send(view);
  });

  /** A new VM's spec: a name and a workload are required. */
  function withWorkload(fields: CreateFields): VmSpec {
    const { name, workload } = fields;
    if (name === undefined || workload === undefined) {
      throw new EngineError('invalid-argument', 'name and workload are required (or domain, to protect an existing Xen domain)');
    }
    return { ...defaultSpec, ...fields, name, workload };
  }

  /** The spec protecting an existing Xen domain, found by name or domid; refused as resolveDomain says. */
  async function protectingDomain(ref: string, fields: CreateFields): Promise<VmSpec> {
    if (fields.backend !== undefined && fields.backend !== 'xen') throw new EngineError('invalid-argument', 'domain is for backend xen only');
    if (fields.domid !== undefined) throw new EngineError('invalid-argument', 'give domain or domid, not both');
    const found = await resolveDomain(ref);
    return {
      ...defaultSpec,
      ...fields,
      backend: 'xen',
      domid: found.domid,
      name: fields.name ?? vmNameFor(found.name, found.domid),
      workload: fields.workload ?? domainsOwnSoftware,
      memoryMiB: Math.max(1, Math.round(found.memoryKb / 1024)),
      vcpus: found.vcpus,
    };
  }

  api.get('/api/vms/:id', {
    config: { access: 'viewer' },
    schema: { tags: ['vms'], summary: 'One VM', params: VmIdParams, response: { 200: Type.Ref('VmView'), ...errors(400, 401, 404) } },
  }, async (request) => supervisor.view(request.params.id));

  api.delete('/api/vms/:id', {
    config: { action: 'vm.delete' },
    schema: {
      tags: ['vms'],
      summary: 'Stop the VM, drop its checkpoints and forget it',
      params: VmIdParams,
      response: { 204: Type.Null(), ...errors(400, 401, 403, 404, 429) },
    },
  }, async (request, reply) => {
    await supervisor.remove(request.params.id);
    return reply.status(204).send(null);
  });

  api.patch('/api/vms/:id/config', {
    config: { action: 'vm.config' },
    schema: {
      tags: ['vms'],
      summary: 'Change how the VM is checkpointed; answers with the settings in force',
      params: VmIdParams,
      body: SettingsPatch,
      response: { 200: SettingsAnswer, ...errors(400, 401, 403, 404, 409, 429, 504) },
    },
  }, async (request) => ({ settings: await supervisor.configure(request.params.id, request.body) }));
};

/** Rejects with a timeout error when `work` takes longer than `ms`; the work itself carries on. */
export function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new EngineError('timeout', `${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
