import { Type } from 'typebox';

const Reason = Type.Union([Type.String(), Type.Null()]);

export const HostView = Type.Object(
  {
    hypervisor: Type.Union([Type.Literal('kvm'), Type.Literal('xen'), Type.Null()], {
      description: 'The hypervisor this service protects VMs on; null when the host has none',
    }),
    version: Type.Union([Type.String(), Type.Null()], { description: "The hypervisor's version (for KVM, the kernel release)" }),
    kvmFlavor: Type.Union([Type.Literal('pvm'), Type.Literal('hardware'), Type.Literal('unknown'), Type.Null()], {
      description: 'How KVM is provided: pvm (kvm_pvm, software virtualization) or hardware (VMX/SVM, kvm_intel or kvm_amd)',
    }),
    emulated: Type.Boolean({
      description: "KVM runs nested under software emulation (the KVM rig): checkpoints work, but timings and overhead are not representative",
    }),
    backends: Type.Object(
      { kvm: Reason, xen: Reason },
      { description: 'Per backend: null when this host can run it, else why not and what to do' },
    ),
    lacks: Type.Array(Type.String(), { description: 'What the host lacks for protecting VMs, with remedies; empty when nothing' }),
  },
  { $id: 'Host' },
);

export const HostDomainsView = Type.Object({
  domains: Type.Array(
    Type.Object({
      domid: Type.Integer(),
      name: Type.String({ description: "From xenstore; empty while a domain is being built" }),
      type: Type.Union([Type.Literal('pv'), Type.Literal('pvh'), Type.Literal('hvm')]),
      state: Type.Union([Type.Literal('running'), Type.Literal('paused'), Type.Literal('shutdown'), Type.Literal('crashed'), Type.Literal('dying')]),
      shutdownReason: Reason,
      memoryKb: Type.Integer(),
      vcpus: Type.Integer(),
      protectedBy: Type.Union([Type.String(), Type.Null()], { description: 'The id of the VM that protects it, or null' }),
      refusal: Type.Union([Type.String(), Type.Null()], { description: 'Why it cannot be protected, or null when it can' }),
    }),
  ),
});
