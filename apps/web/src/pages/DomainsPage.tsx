// A Xen host's domains: which VM protects each, why one cannot be
// protected, and (operators) a Protect button for the others.
import { useCallback, useEffect, useState } from 'react';
import { ApiError } from '../api/client.ts';
import type { HostDomain } from '../api/types.ts';
import { canMutate, useSession } from '../app-context.ts';
import { href, navigate } from '../route.ts';

export function DomainsPage() {
  const { api, role, refreshVms } = useSession();
  const [domains, setDomains] = useState<HostDomain[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);

  const load = useCallback(() => {
    api.hostDomains().then(
      (answer) => {
        setDomains(answer.domains);
        setError(null);
      },
      (e: unknown) => setError(e instanceof ApiError ? e.message : String(e)),
    );
  }, [api]);
  useEffect(load, [load]);

  async function protect(domain: HostDomain) {
    setBusy(domain.name || String(domain.domid));
    try {
      const vm = await api.createVm({ domain: domain.name || String(domain.domid) });
      await refreshVms();
      navigate(href.vm(vm.id));
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
      load();
    } finally {
      setBusy(null);
    }
  }

  return (
    <section>
      <div className="page-head">
        <h1>Domains of this host</h1>
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {domains === null && !error && <p className="muted">Loading…</p>}
      {domains && (
        <div className="table-wrap">
          <table className="vm-table" data-testid="domain-table">
            <caption className="sr-only">The Xen domains of this host and their protection</caption>
            <thead>
              <tr>
                <th scope="col" className="num">Domid</th>
                <th scope="col">Name</th>
                <th scope="col">Type</th>
                <th scope="col">State</th>
                <th scope="col" className="num">Memory</th>
                <th scope="col" className="num">vCPUs</th>
                <th scope="col">Protection</th>
              </tr>
            </thead>
            <tbody>
              {domains.map((d) => (
                <tr key={d.domid} data-domid={d.domid}>
                  <td className="num">{d.domid}</td>
                  <th scope="row">{d.name || <span className="muted">(unnamed)</span>}</th>
                  <td>{d.type}</td>
                  <td>{d.shutdownReason ? `${d.state} (${d.shutdownReason})` : d.state}</td>
                  <td className="num">{Math.round(d.memoryKb / 1024)} MiB</td>
                  <td className="num">{d.vcpus}</td>
                  <td>
                    {d.protectedBy ? (
                      <a href={href.vm(d.protectedBy)}>protected</a>
                    ) : d.refusal ? (
                      <span className="muted">cannot: {d.refusal}</span>
                    ) : canMutate(role) ? (
                      <button type="button" className="btn btn-primary" disabled={busy !== null} onClick={() => void protect(d)}>
                        {busy === (d.name || String(d.domid)) ? 'Protecting…' : 'Protect'}
                      </button>
                    ) : (
                      <span className="muted">not protected</span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
