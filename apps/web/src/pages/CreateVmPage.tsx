// Create a protected VM from a guest workload, or attach a running Xen domain.
import { defaultSettings, defaultSpec, limits } from '@uckpt/engine/config';
import { type FormEvent, useEffect, useId, useState } from 'react';
import { ApiError } from '../api/client.ts';
import type { BackendName, CheckpointMode, CreateVmRequest, PredictorName, Workload } from '../api/types.ts';
import { canMutate, useSession } from '../app-context.ts';
import { integerProblem } from '../components/ControlsPanel.tsx';
import { href, navigate } from '../route.ts';

interface Form {
  name: string;
  workload: string;
  backend: BackendName;
  domid: string;
  memoryMiB: string;
  vcpus: string;
  seed: string;
  size: string;
  param: string;
  repeat: string;
  intervalMs: string;
  retention: string;
  mode: CheckpointMode;
  predictor: PredictorName;
}

const initial: Form = {
  name: '',
  workload: '',
  backend: defaultSpec.backend,
  domid: '',
  memoryMiB: String(defaultSpec.memoryMiB),
  vcpus: String(defaultSpec.vcpus),
  seed: String(defaultSpec.seed),
  size: String(defaultSpec.size),
  param: String(defaultSpec.param),
  repeat: String(defaultSpec.repeat),
  intervalMs: String(defaultSettings.intervalMs),
  retention: String(defaultSettings.retention),
  mode: defaultSettings.mode,
  predictor: defaultSettings.predictor,
};

type Errors = Partial<Record<keyof Form, string>>;

const backendHints: Record<BackendName, string> = {
  kvm: 'Needs /dev/kvm on the server.',
  xen: 'The server runs in Xen dom0; the domain must run this workload image. It is attached, never created or destroyed.',
  sim: 'No hypervisor: for testing the dashboard only.',
};

function validate(f: Form): Errors {
  const e: Errors = {};
  if (!new RegExp(limits.name.pattern).test(f.name)) e.name = 'Letters, digits, ".", "_" or "-", starting with a letter or digit; at most 63 characters.';
  if (!f.workload) e.workload = 'Choose a workload.';
  const int = (k: keyof Form, min: number, max: number, unit = '') => {
    const p = integerProblem(String(f[k]), min, max, unit);
    if (p) e[k] = p;
  };
  if (f.backend === 'xen') int('domid', limits.domid.min, limits.domid.max);
  if (f.backend === 'xen' && f.predictor !== 'off') e.predictor = 'Xen cannot leave pages writable: prediction must be off.';
  int('memoryMiB', limits.memoryMiB.min, limits.memoryMiB.max, ' MiB');
  int('vcpus', limits.vcpus.min, limits.vcpus.max);
  int('seed', limits.seed.min, limits.seed.max);
  int('size', 0, Number.MAX_SAFE_INTEGER);
  int('param', 0, Number.MAX_SAFE_INTEGER);
  int('repeat', 0, Number.MAX_SAFE_INTEGER);
  int('intervalMs', limits.intervalMs.min, limits.intervalMs.max, ' ms');
  int('retention', limits.retention.min, limits.retention.max);
  return e;
}

export function CreateVmPage() {
  const { api, store, role, refreshVms } = useSession();
  const id = useId();
  const [form, setForm] = useState<Form>(initial);
  const [touched, setTouched] = useState(false);
  const [workloads, setWorkloads] = useState<Workload[]>([]);
  const [busy, setBusy] = useState(false);
  const [serverError, setServerError] = useState<string | null>(null);

  useEffect(() => {
    api
      .workloads()
      .then((r) => {
        setWorkloads(r.workloads);
        setForm((f) => (f.workload ? f : { ...f, workload: r.workloads[0]?.name ?? '' }));
      })
      .catch((e: unknown) => setServerError(`Could not load the workloads: ${e instanceof Error ? e.message : String(e)}`));
  }, [api]);

  if (!canMutate(role))
    return (
      <section>
        <h1>New VM</h1>
        <p>Only an operator can create VMs.</p>
      </section>
    );

  const errors = validate(form);
  const shownErrors = touched ? errors : {};

  async function submit(e: FormEvent) {
    e.preventDefault();
    setTouched(true);
    if (Object.keys(errors).length > 0) return;
    setBusy(true);
    setServerError(null);
    const body: CreateVmRequest = {
      name: form.name,
      workload: form.workload,
      backend: form.backend,
      ...(form.backend === 'xen' ? { domid: Number(form.domid) } : {}),
      memoryMiB: Number(form.memoryMiB),
      vcpus: Number(form.vcpus),
      seed: Number(form.seed),
      size: Number(form.size),
      param: Number(form.param),
      repeat: Number(form.repeat),
      settings: { intervalMs: Number(form.intervalMs), retention: Number(form.retention), mode: form.mode, predictor: form.predictor },
    };
    try {
      const vm = await api.createVm(body);
      store.upsertVm(vm);
      store.publish();
      void refreshVms().catch(() => {});
      navigate(href.vm(vm.id));
    } catch (err) {
      setServerError(err instanceof ApiError ? `The server refused: ${err.message}` : String(err));
    } finally {
      setBusy(false);
    }
  }

  const field = (k: keyof Form, label: string, hint: string, props: { inputMode?: 'numeric' } = { inputMode: 'numeric' }) => (
    <div className="field">
      <label htmlFor={`${id}-${k}`}>{label}</label>
      <input
        id={`${id}-${k}`}
        name={k}
        {...props}
        value={String(form[k])}
        aria-invalid={shownErrors[k] ? true : undefined}
        aria-describedby={`${id}-${k}-h`}
        onChange={(e) => setForm({ ...form, [k]: e.target.value })}
      />
      <span id={`${id}-${k}-h`} className={shownErrors[k] ? 'field-error' : 'hint'}>
        {shownErrors[k] ?? hint}
      </span>
    </div>
  );

  const wl = workloads.find((w) => w.name === form.workload);
  return (
    <section>
      <h1>New VM</h1>
      <form className="card create-form" onSubmit={submit} noValidate data-testid="create-form">
        <fieldset>
          <legend>Guest</legend>
          <div className="field-grid">
            {field('name', 'Name', 'e.g. web-1', {})}
            <div className="field">
              <label htmlFor={`${id}-workload`}>Workload</label>
              <select id={`${id}-workload`} value={form.workload} onChange={(e) => setForm({ ...form, workload: e.target.value })} aria-describedby={`${id}-workload-h`}>
                {workloads.map((w) => (
                  <option key={w.name} value={w.name}>
                    {w.name}
                  </option>
                ))}
              </select>
              <span id={`${id}-workload-h`} className={shownErrors.workload ? 'field-error' : 'hint'}>
                {shownErrors.workload ?? wl?.description ?? ''}
              </span>
            </div>
            <div className="field">
              <label htmlFor={`${id}-backend`}>Backend</label>
              <select
                id={`${id}-backend`}
                value={form.backend}
                onChange={(e) => {
                  const backend = e.target.value as BackendName;
                  // Xen has no prediction: switch it off rather than refuse the form.
                  setForm({ ...form, backend, ...(backend === 'xen' ? { predictor: 'off' as const } : {}) });
                }}
                aria-describedby={`${id}-backend-h`}
              >
                <option value="kvm">kvm (real VM)</option>
                <option value="xen">xen (attach a running domain)</option>
                <option value="sim">sim (simulated test double)</option>
              </select>
              <span id={`${id}-backend-h`} className="hint">{backendHints[form.backend]}</span>
            </div>
            {form.backend === 'xen' && field('domid', 'Domain id', 'the running PVH or HVM domain (xl list)')}
            {field('memoryMiB', 'Memory (MiB)', `${limits.memoryMiB.min}–${limits.memoryMiB.max}`)}
            {field('vcpus', 'vCPUs', `${limits.vcpus.min}–${limits.vcpus.max}`)}
            {field('seed', 'Seed', 'the workload is deterministic from it')}
            {field('size', 'Size', "0: the workload's default")}
            {field('param', 'Param', "0: the workload's default")}
            {field('repeat', 'Runs', '0: loop forever')}
          </div>
        </fieldset>
        <fieldset>
          <legend>Checkpointing</legend>
          <div className="field-grid">
            {field('intervalMs', 'Interval (ms)', `${limits.intervalMs.min}–${limits.intervalMs.max} ms`)}
            {field('retention', 'Retention (checkpoints)', `${limits.retention.min}–${limits.retention.max}`)}
            <div className="field">
              <label htmlFor={`${id}-mode`}>Mode</label>
              <select id={`${id}-mode`} value={form.mode} onChange={(e) => setForm({ ...form, mode: e.target.value as CheckpointMode })}>
                <option value="stop-and-copy">stop-and-copy</option>
                <option value="cow">copy-on-write</option>
              </select>
            </div>
            <div className="field">
              <label htmlFor={`${id}-pred`}>Dirty-page predictor</label>
              <select
                id={`${id}-pred`}
                value={form.predictor}
                onChange={(e) => setForm({ ...form, predictor: e.target.value as PredictorName })}
                aria-invalid={shownErrors.predictor ? true : undefined}
                aria-describedby={`${id}-pred-h`}
              >
                <option value="off">off</option>
                <option value="history">history</option>
                <option value="frontier">frontier</option>
                <option value="cost">cost model</option>
              </select>
              <span id={`${id}-pred-h`} className={shownErrors.predictor ? 'field-error' : 'hint'}>
                {shownErrors.predictor ?? ''}
              </span>
            </div>
          </div>
        </fieldset>
        {serverError && (
          <p className="result-error" role="alert">
            {serverError}
          </p>
        )}
        <div className="btn-row">
          <button type="submit" className="btn-primary" disabled={busy}>
            {busy ? 'Creating…' : 'Create VM'}
          </button>
          <a className="btn" href={href.list}>
            Cancel
          </a>
        </div>
      </form>
    </section>
  );
}
