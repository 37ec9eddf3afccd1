import { Type } from 'typebox';
import { errors } from '../schemas/common.js';
import { telemetryProtocol } from '../plugins/access.js';
import { maxSubscribedVms } from '../service/telemetry-hub.js';
import { typed, type Routes } from './context.js';

const maxMessageBytes = 64 * 1024;

/** Client -> server: which VMs to hear about ('*': all, the default). */
type Subscription = { type: 'subscribe' | 'unsubscribe'; vms: string[] | '*' };

export const telemetryRoutes: Routes = async (app, { hub, metrics }) => {
  const api = typed(app);

  api.get('/ws/telemetry', {
    config: { access: 'viewer' },
    websocket: true,
    schema: {
      tags: ['telemetry'],
      summary: 'WebSocket: one JSON frame per event (epoch, checkpoint, rollback, alert, vm-state, console), or a coalesced frame for a slow client',
      hide: false,
    },
  }, (socket) => {
    const client = hub.add(socket);
    socket.on('message', (data, isBinary) => {
      const subscription = isBinary || (data as Buffer).length > maxMessageBytes ? null : parseSubscription(String(data));
      if (!subscription) {
        socket.send(JSON.stringify({ type: 'error', error: { code: 'invalid-argument', message: 'expected {"type":"subscribe"|"unsubscribe","vms":["vm-..."]|"*"}' } }));
        return;
      }
      if (subscription.type === 'unsubscribe') client.unsubscribe(subscription.vms);
      else if (!client.subscribe(subscription.vms)) {
        socket.send(JSON.stringify({ type: 'error', error: { code: 'invalid-argument', message: `a connection follows at most ${maxSubscribedVms} VMs by name: unsubscribe some, or subscribe to "*"` } }));
      }
    });
    socket.on('close', () => client.remove());
  });

  api.get('/metrics', {
    config: { access: 'viewer' },
    schema: { tags: ['service'], summary: 'Prometheus metrics (text format)', response: { 200: Type.String(), ...errors(401) } },
  }, async (_request, reply) => reply.type(metrics.contentType).send(await metrics.render()));
};

/** Picks our subprotocol when the client offers it, so the bearer one is never echoed. */
export function selectProtocol(protocols: Set<string>): string | false {
  return protocols.has(telemetryProtocol) ? telemetryProtocol : false;
}

function parseSubscription(text: string): Subscription | null {
  try {
    const message = JSON.parse(text) as Partial<Subscription>;
    if (message.type !== 'subscribe' && message.type !== 'unsubscribe') return null;
    const { vms } = message;
    if (vms === '*') return { type: message.type, vms };
    if (Array.isArray(vms) && vms.length <= 1024 && vms.every((vm) => typeof vm === 'string' && vm.length <= 64)) return { type: message.type, vms };
    return null;
  } catch {
    return null;
  }
}
