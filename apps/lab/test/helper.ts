// The server's test helpers, shared: one banner for a missing /dev/kvm, one way to wait.
export * from '../../server/test/helper.js';
