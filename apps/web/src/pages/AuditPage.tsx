import { AuditPanel } from '../components/AuditPanel.tsx';

export function AuditPage() {
  return (
    <section>
      <h1>Audit log</h1>
      <p className="muted">Every mutation through the API, with the role and token that made it and the server's answer.</p>
      <AuditPanel />
    </section>
  );
}
