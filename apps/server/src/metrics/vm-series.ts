// prom-client removes a series only by its full label set, and some of ours
// carry labels beyond the VM (cause, detector, state...). This index records
// every label set used per VM so that a deleted VM's series can all go.
import type { Counter, Gauge, Histogram } from 'prom-client';

export type VmLabels = Record<string, string> & { vm: string };
type AnyMetric = Counter<string> | Gauge<string> | Histogram<string>;

function keyOf(labels: VmLabels): string {
  return JSON.stringify(Object.keys(labels).sort().map((name) => [name, labels[name]]));
}

export class VmSeries {
  private readonly byVm = new Map<string, Map<AnyMetric, Map<string, VmLabels>>>();

  /** Remembers that `metric` has a series with these labels; returns them for the call that creates it. */
  note<L extends VmLabels>(metric: AnyMetric, labels: L): L {
    let metrics = this.byVm.get(labels.vm);
    if (!metrics) {
      metrics = new Map();
      this.byVm.set(labels.vm, metrics);
    }
    let series = metrics.get(metric);
    if (!series) {
      series = new Map();
      metrics.set(metric, series);
    }
    series.set(keyOf(labels), labels);
    return labels;
  }

  /** Removes one series, e.g. a gauge whose value became unknown. */
  drop(metric: AnyMetric, labels: VmLabels): void {
    if (this.byVm.get(labels.vm)?.get(metric)?.delete(keyOf(labels))) metric.remove(labels);
  }

  /** VMs with at least one series. */
  vms(): string[] {
    return [...this.byVm.keys()];
  }

  removeVm(vmId: string): void {
    for (const [metric, series] of this.byVm.get(vmId) ?? []) {
      for (const labels of series.values()) metric.remove(labels);
    }
    this.byVm.delete(vmId);
  }
}
